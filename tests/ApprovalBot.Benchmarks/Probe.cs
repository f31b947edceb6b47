using System.Diagnostics;
using ApprovalBot.Drafts;
using ApprovalBot.Hosting;
using ApprovalBot.Pipe;
using ApprovalBot.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ApprovalBot.Benchmarks;

/// <summary>
/// Decomposes one submit in an in-process host (store and pipe only, logging at Warning): the floor, the store's
/// write alone (group-commit writer, two rows, five indexes, one fsync), a ping round trip over the pipe (transport
/// and dispatch without a write), and a submit over the pipe, interleaved in two rounds.
/// </summary>
internal static class Probe
{
    public static async Task<string> MeasureAsync(string work, int count)
    {
        var data = Path.Combine(work, "probe");
        Directory.CreateDirectory(data);
        var socket = Path.Combine(data, "p.sock");
        var builder = ApprovalBotHost.CreateBuilder([$"--ApprovalBot:DataDirectory={data}", $"--ApprovalBot:Pipe:Name={socket}", "--Serilog:MinimumLevel:Default=Warning"]);
        builder.AddApprovalBotLogging();
        builder.AddApprovalStore();
        builder.AddAgentPipe();
        using var host = builder.Build();
        await host.StartAsync();
        await host.Services.GetRequiredService<AgentPipeServer>().Listening;
        var store = host.Services.GetRequiredService<DraftStore>();

        var floor = new SqliteBaselines.FloorRunner(data);
        floor.Run(50, measure: false);
        Samples write = new(), ping = new(), submit = new();
        for (var round = 0; round < 5; round++) // round 0 warms up (JIT), unmeasured
        {
            var measure = round > 0;
            floor.Run(count / 4, measure);
            for (var i = 0; i < count / 4; i++)
            {
                var id = $"reply:probe:{round}:{i}";
                var draft = new NewDraft(id, "reply", "probe", Workload.Text, Workload.Sha256, null);
                var start = Stopwatch.GetTimestamp();
                await store.SubmitAsync(draft);
                if (measure) write.Add(Ms.Since(start));
            }
            await using var client = await PipeClient.ConnectAsync(socket, TimeSpan.FromSeconds(5));
            for (var i = 0; i < count / 4; i++)
            {
                var start = Stopwatch.GetTimestamp();
                await client.PingAsync();
                if (measure) ping.Add(Ms.Since(start));
            }
            for (var i = 0; i < count / 4; i++)
            {
                var start = Stopwatch.GetTimestamp();
                var r = await client.SubmitAsync(PipeLoad.Draft($"reply:probe:pipe{round}:{i}"));
                if (measure) submit.Add(Ms.Since(start));
                if (!r.Ok) throw new InvalidOperationException(r.Error?.Message);
            }
        }
        await host.StopAsync();
        var f = floor.Result.Latency;
        floor.Dispose();
        return $"floor p50/p99 {Ms.F(f.P50)}/{Ms.F(f.P99)} ms; store write alone {Ms.F(write.P50)}/{Ms.F(write.P99)} ms ({write.P50 / f.P50:0.0}x p50); " +
               $"pipe ping round trip {Ms.F(ping.P50)}/{Ms.F(ping.P99)} ms; pipe submit {Ms.F(submit.P50)}/{Ms.F(submit.P99)} ms ({submit.P50 / f.P50:0.0}x p50, {submit.P99 / f.P99:0.0}x p99)";
    }
}
