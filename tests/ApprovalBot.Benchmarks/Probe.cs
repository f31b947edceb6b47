using System.Diagnostics;
using ApprovalBot.Drafts;
using ApprovalBot.Hosting;
using ApprovalBot.Pipe;
using ApprovalBot.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ApprovalBot.Benchmarks;

/// <summary>
/// `--probe`: decomposes one submit in an in-process host (store and pipe only): the store write alone, a ping
/// round trip over the pipe, and a submit over the pipe. For profiling; not part of the report.
/// </summary>
internal static class Probe
{
    public static async Task RunAsync(string work, int count)
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

        for (var round = 0; round < 2; round++)
        {
            var write = new Samples();
            for (var i = 0; i < count; i++)
            {
                var id = $"reply:probe:{round}:{i}";
                var draft = new NewDraft(id, "reply", "probe", Workload.Text, Workload.Sha256, null);
                var start = Stopwatch.GetTimestamp();
                await store.SubmitAsync(draft);
                write.Add(Ms.Since(start));
            }
            await using var client = await PipeClient.ConnectAsync(socket, TimeSpan.FromSeconds(5));
            var ping = new Samples();
            for (var i = 0; i < count; i++)
            {
                var start = Stopwatch.GetTimestamp();
                await client.PingAsync();
                ping.Add(Ms.Since(start));
            }
            var submit = new Samples();
            for (var i = 0; i < count; i++)
            {
                var start = Stopwatch.GetTimestamp();
                var r = await client.SubmitAsync(PipeLoad.Draft($"reply:probe:pipe{round}:{i}"));
                submit.Add(Ms.Since(start));
                if (!r.Ok) throw new InvalidOperationException(r.Error?.Message);
            }
            var floor = SqliteBaselines.Floor(work, 10, count);
            Console.WriteLine($"round {round}: floor p50 {Ms.F(floor.Latency.P50)} p99 {Ms.F(floor.Latency.P99)} | store write p50 {Ms.F(write.P50)} p99 {Ms.F(write.P99)} | ping p50 {Ms.F(ping.P50)} p99 {Ms.F(ping.P99)} | pipe submit p50 {Ms.F(submit.P50)} p99 {Ms.F(submit.P99)}");
            File.Delete(Path.Combine(work, "floor.db"));
        }
        await host.StopAsync();
    }
}
