using System.Diagnostics;
using ApprovalBot.Client;

namespace ApprovalBot.Benchmarks;

/// <summary>Submits over the pipe on persistent connections until the durable receipt, one or many clients at once.</summary>
internal static class PipeLoad
{
    private static int _run;

    /// <summary>How long the single client's warm-up ran until the JIT went quiet.</summary>
    public static TimeSpan WarmupTime { get; private set; }

    /// <summary>CPU microseconds per submit of the host and of this (client) process, over the measured window.</summary>
    public sealed record Result(int Clients, Samples Latency, double PerSecond, long Submits, double HostCpuUs = double.NaN, double ClientCpuUs = double.NaN)
    {
        /// <summary>The host's threads over the measured window (<see cref="ThreadProbe.Snapshot"/>), when asked for.</summary>
        public (Dictionary<int, ThreadProbe.ThreadStat> Before, Dictionary<int, ThreadProbe.ThreadStat> After)? HostThreads { get; init; }
    }

    /// <summary>
    /// A connection as the benchmark drives it: with <c>blocking</c>, <see cref="PipeClient.Connect"/> and
    /// <see cref="PipeClient.Submit"/> (the caller's thread waits in the read, as an agent waiting for its receipt
    /// does); otherwise the async client.
    /// </summary>
    private sealed class Connection(PipeClient client, bool blocking) : IAsyncDisposable
    {
        public static async Task<Connection> OpenAsync(HostUnderTest host, bool blocking) =>
            new(blocking ? PipeClient.Connect(host.Socket, TimeSpan.FromSeconds(10)) : await host.ConnectAsync(), blocking);

        public ValueTask<Response> SubmitAsync(DraftSubmission draft) =>
            blocking ? ValueTask.FromResult(client.Submit(draft)) : new ValueTask<Response>(client.SubmitAsync(draft));

        public ValueTask DisposeAsync() => client.DisposeAsync();
    }

    /// <summary>
    /// One client on one persistent connection: <paramref name="warmup"/> unmeasured submits, then
    /// <paramref name="rounds"/> slices of sequential submits, each slice preceded by a slice of the floor.
    /// </summary>
    public static async Task<Result> Single(HostUnderTest host, SqliteBaselines.FloorRunner floor, int warmup, int count, int rounds, bool blocking)
    {
        var run = Interlocked.Increment(ref _run);
        await using var client = await Connection.OpenAsync(host, blocking);
        var samples = new Samples();
        var sw = new Stopwatch();
        var i = 0;
        for (; i < warmup; i++)
        {
            Check(await client.SubmitAsync(Draft($"reply:bench{run}:single:{i}")));
        }
        // Steady state, as a long-running service is: until the tiered JIT of the host and of this process is quiet.
        WarmupTime = await JitWarmup.UntilQuietAsync(async () => Check(await client.SubmitAsync(Draft($"reply:bench{run}:single:{i++}"))),
            [host.Pid, Environment.ProcessId], TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(warmup < 10 ? 0 : 30));
        for (var round = 0; round < rounds; round++)
        {
            floor.Run(count / rounds);
            sw.Start();
            for (var k = 0; k < count / rounds; k++, i++)
            {
                var start = Stopwatch.GetTimestamp();
                var response = await client.SubmitAsync(Draft($"reply:bench{run}:single:{i}"));
                var elapsed = Ms.Since(start);
                Check(response);
                samples.Add(elapsed);
            }
            sw.Stop();
        }
        return new Result(1, samples, samples.Count / sw.Elapsed.TotalSeconds, samples.Count);
    }

    /// <summary>
    /// <paramref name="clients"/> connections submitting back to back; measured for <paramref name="duration"/>
    /// after <paramref name="warmup"/>. Throughput counts receipts within the measured window.
    /// </summary>
    public static async Task<Result> Concurrent(HostUnderTest host, int clients, TimeSpan warmup, TimeSpan duration, bool blocking, bool hostThreads = false)
    {
        var run = Interlocked.Increment(ref _run);
        var connections = new List<Connection>();
        for (var c = 0; c < clients; c++)
        {
            connections.Add(await Connection.OpenAsync(host, blocking));
        }
        var samples = new Samples();
        var measuring = 0;
        var stop = 0;
        long done = 0;
        // Blocking clients each get a thread of their own, as agents in separate processes would have.
        var loops = connections.Select((client, c) => Task.Factory.StartNew(async () =>
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
        }, CancellationToken.None, blocking ? TaskCreationOptions.LongRunning : TaskCreationOptions.None, TaskScheduler.Default).Unwrap()).ToArray();
        await Task.Delay(warmup);
        var threadsBefore = hostThreads ? ThreadProbe.Snapshot(host.Pid) : null;
        var hostCpu = host.CpuSeconds;
        var clientCpu = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
        Volatile.Write(ref measuring, 1);
        var timer = Stopwatch.StartNew();
        await Task.Delay(duration);
        var measured = Interlocked.Read(ref done);
        var elapsedSeconds = timer.Elapsed.TotalSeconds;
        hostCpu = host.CpuSeconds - hostCpu;
        var threadsAfter = hostThreads ? ThreadProbe.Snapshot(host.Pid) : null;
        clientCpu = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - clientCpu;
        Volatile.Write(ref measuring, 0);
        Volatile.Write(ref stop, 1);
        await Task.WhenAll(loops);
        foreach (var client in connections)
        {
            await client.DisposeAsync();
        }
        return new Result(clients, samples, measured / elapsedSeconds, measured, hostCpu * 1e6 / measured, clientCpu * 1e6 / measured)
        {
            HostThreads = threadsBefore is null ? null : (threadsBefore, threadsAfter!),
        };
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
