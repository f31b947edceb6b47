using System.Diagnostics;
using ApprovalBot.Client;

namespace ApprovalBot.Benchmarks;

/// <summary>Submits over the pipe on persistent connections until the durable receipt, one or many clients at once.</summary>
internal static class PipeLoad
{
    private static int _run;

    public sealed record Result(int Clients, Samples Latency, double PerSecond, long Submits);

    /// <summary>One client, <paramref name="count"/> sequential submits after <paramref name="warmup"/> unmeasured ones.</summary>
    public static async Task<Result> Single(HostUnderTest host, int warmup, int count)
    {
        var run = Interlocked.Increment(ref _run);
        await using var client = await host.ConnectAsync();
        var samples = new Samples();
        var sw = new Stopwatch();
        for (var i = 0; i < warmup + count; i++)
        {
            if (i == warmup) sw.Start();
            var start = Stopwatch.GetTimestamp();
            var response = await client.SubmitAsync(Draft($"reply:bench{run}:single:{i}"));
            var elapsed = Ms.Since(start);
            Check(response);
            if (i >= warmup) samples.Add(elapsed);
        }
        return new Result(1, samples, count / sw.Elapsed.TotalSeconds, count);
    }

    /// <summary>
    /// <paramref name="clients"/> connections submitting back to back; measured for <paramref name="duration"/>
    /// after <paramref name="warmup"/>. Throughput counts receipts within the measured window.
    /// </summary>
    public static async Task<Result> Concurrent(HostUnderTest host, int clients, TimeSpan warmup, TimeSpan duration)
    {
        var run = Interlocked.Increment(ref _run);
        var connections = new List<PipeClient>();
        for (var c = 0; c < clients; c++)
        {
            connections.Add(await host.ConnectAsync());
        }
        var samples = new Samples();
        var measuring = 0;
        var stop = 0;
        long done = 0;
        var loops = connections.Select((client, c) => Task.Run(async () =>
        {
            for (var i = 0; Volatile.Read(ref stop) == 0; i++)
            {
                var start = Stopwatch.GetTimestamp();
                var response = await client.SubmitAsync(Draft($"reply:bench{run}:c{clients}:{c}:{i}"));
                var elapsed = Ms.Since(start);
                Check(response);
                if (Volatile.Read(ref measuring) == 1)
                {
                    samples.Add(elapsed);
                    Interlocked.Increment(ref done);
                }
            }
        })).ToArray();
        await Task.Delay(warmup);
        Volatile.Write(ref measuring, 1);
        var timer = Stopwatch.StartNew();
        await Task.Delay(duration);
        var measured = Interlocked.Read(ref done);
        var elapsedSeconds = timer.Elapsed.TotalSeconds;
        Volatile.Write(ref measuring, 0);
        Volatile.Write(ref stop, 1);
        await Task.WhenAll(loops);
        foreach (var client in connections)
        {
            await client.DisposeAsync();
        }
        return new Result(clients, samples, measured / elapsedSeconds, measured);
    }

    public static DraftSubmission Draft(string id) => new()
    {
        Id = id,
        Kind = "reply",
        Agent = "bench-agent",
        Text = Workload.Text,
    };

    private static void Check(Response response)
    {
        if (!response.Ok || response.Receipt is null)
        {
            throw new InvalidOperationException($"submit failed: {response.Error?.Code} {response.Error?.Message}");
        }
    }
}
