using System.Diagnostics;
using System.Globalization;
using ApprovalBot.Drafts;
using ApprovalBot.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ApprovalBot.Benchmarks;

/// <summary>
/// The ceiling under item 4: the store alone, in this process, with <c>clients</c> concurrent submit loops (async,
/// as the pipe's requests are) and no pipe, JSON or second process. Whatever the pipe does, 16 agents cannot get
/// more submits per second through the service than its single writer commits here.
/// </summary>
internal static class StoreConcurrency
{
    public sealed record Result(int Clients, double PerSecond, double Batch, double CpuUs, double WriterCpuUs);

    public static async Task<Result> MeasureAsync(string work, int clients, TimeSpan warmup, TimeSpan duration)
    {
        var data = Path.Combine(work, "store-" + clients.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(data);
        var builder = ApprovalBotHost.CreateBuilder([$"--ApprovalBot:DataDirectory={data}", $"--ApprovalBot:Pipe:Name={Path.Combine(data, "p.sock")}", "--Serilog:MinimumLevel:Default=Warning"]);
        builder.AddApprovalBotLogging();
        builder.AddApprovalStore();
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var store = host.Services.GetRequiredService<DraftStore>();
            var writer = host.Services.GetRequiredService<DraftWriter>();
            var next = 0;
            long submitted = 0;
            var measuring = false;
            using var stop = new CancellationTokenSource();
            var loops = Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    var i = Interlocked.Increment(ref next);
                    await store.SubmitAsync(new NewDraft($"reply:store:{i}", "reply", "bench", Workload.Text, Workload.Sha256, null));
                    if (Volatile.Read(ref measuring)) Interlocked.Increment(ref submitted);
                }
            })).ToArray();
            await Task.Delay(warmup);
            var commits = writer.Commits;
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var writerCpu = WriterThreadCpuSeconds();
            var clock = Stopwatch.StartNew();
            Volatile.Write(ref measuring, true);
            await Task.Delay(duration);
            Volatile.Write(ref measuring, false);
            var seconds = clock.Elapsed.TotalSeconds;
            var count = Interlocked.Read(ref submitted);
            commits = writer.Commits - commits;
            var cpuUs = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds / count;
            var writerUs = (WriterThreadCpuSeconds() - writerCpu) * 1e6 / count;
            await stop.CancelAsync();
            await Task.WhenAll(loops);
            return new Result(clients, count / seconds, (double)count / Math.Max(1, commits), cpuUs, writerUs);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    /// <summary>CPU time of the store's writer thread so far, in seconds (0 where there is no /proc).</summary>
    private static double WriterThreadCpuSeconds() =>
        ProcThreads.Ticks(Environment.ProcessId, name => name == "store-writer") / 100.0;
}
