using System.Diagnostics;

namespace ApprovalBot.Benchmarks;

/// <summary>
/// Warm-up until steady state: runs the workload until the tiered JIT of the host and of this process has gone
/// quiet. A fixed count of warm-up calls is not enough: tiered PGO recompiles hot methods twice (instrumented, then
/// optimized) in the background, and on 2 busy cores that went on for seconds into the measurement (thousands of
/// methods compiled, a third of the host's CPU samples in the JIT).
/// </summary>
internal static class JitWarmup
{
    /// <summary>CPU ticks (10 ms) used so far by the tiered-compilation threads of <paramref name="pid"/>.</summary>
    public static long JitTicks(int pid) => ProcThreads.Ticks(pid, name => name.StartsWith(".NET Tiered", StringComparison.Ordinal));

    /// <summary>
    /// Runs <paramref name="step"/> for at least <paramref name="min"/>, then until two slices of <paramref name="slice"/>
    /// in a row leave the JIT of every process in <paramref name="pids"/> quiet (at most one 10 ms tick each), or
    /// <paramref name="max"/> has passed. The minimum matters: tiering waits for a quiet 100 ms before it starts, so
    /// an early quiet slice says nothing. Returns the time it took.
    /// </summary>
    public static async Task<TimeSpan> UntilQuietAsync(Func<Task> step, IReadOnlyList<int> pids, TimeSpan slice, TimeSpan max, TimeSpan? min = null)
    {
        var total = Stopwatch.StartNew();
        var quiet = 0;
        while (total.Elapsed < max)
        {
            var before = pids.Select(JitTicks).ToArray();
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed < slice)
            {
                await step();
            }
            var after = pids.Select(JitTicks).ToArray();
            quiet = before.Zip(after).All(p => p.Second - p.First <= 1) ? quiet + 1 : 0;
            if (quiet >= 2 && total.Elapsed >= (min ?? TimeSpan.FromSeconds(3)))
            {
                break;
            }
        }
        return total.Elapsed;
    }
}
