using System.Diagnostics;
using System.Globalization;

namespace ApprovalBot.Benchmarks;

/// <summary>
/// `--flush-sweep [extra microseconds, comma-separated] [rounds]`: the targets of items 3 and 4 against how long the
/// disk takes to flush. This machine's virtual disk flushes in ~0.1 ms, about as long as the CPU work of one request,
/// which is what the missed targets come down to (docs/PERFORMANCE.md). Here every fsync of the floor and of the
/// service is made that much slower by an LD_PRELOAD shim (Native/slow_fsync.c, built with gcc), as on a disk whose
/// flush takes longer, and `--load 1` and `--load 16` run in a child process under it: the floor and the service in the
/// same rounds, as everywhere else. Round 0 is left out (the host is still compiling); the table has the median of the
/// other rounds. Writes no document.
/// </summary>
internal static class FlushSweep
{
    private const string ChildVariable = "BENCH_FLUSH_SWEEP_CHILD";
    private const string ResultPrefix = "sweep-result ";

    public static bool ChildOfASweep => Environment.GetEnvironmentVariable(ChildVariable) == "1";

    /// <summary>One round of `--load`, for the parent to read: round, clients, floor p50/p99/rate, service rate/p50/p99.</summary>
    public static string ResultLine(int round, int clients, SqliteBaselines.FloorResult floor, PipeLoad.Result service) =>
        ResultPrefix + string.Join(' ', new double[]
        {
            round, clients, floor.Latency.P50, floor.Latency.P99, floor.CommitsPerSecond, service.PerSecond, service.Latency.P50, service.Latency.P99,
        }.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));

    public static async Task RunAsync(IReadOnlyList<int> extraMicroseconds, int rounds)
    {
        if (rounds < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(rounds), rounds, "at least 2 rounds: round 0 is a warm-up");
        }
        var shim = await BuildShimAsync();
        Console.WriteLine($"Flush sweep: {Environment.ProcessorCount} cores, load {MachineLoad.Average()}, {rounds} rounds per row (the first not counted)");
        var rows = new List<string>();
        try
        {
            foreach (var extra in extraMicroseconds)
            {
                var single = await RoundsAsync(shim, extra, 1, rounds);
                var sixteen = await RoundsAsync(shim, extra, 16, rounds);
                rows.Add($"| {extra} us | {Ms(single, r => r.FloorP50)} ms / {Ms(single, r => r.FloorP99)} ms, {Median(single, r => r.FloorRate):0}/s " +
                         $"| {Median(single, r => r.P50 / r.FloorP50):0.00}x | {Median(single, r => r.P99 / r.FloorP99):0.00}x " +
                         $"| {Median(sixteen, r => r.Rate):0}/s, {Median(sixteen, r => r.Rate / r.FloorRate):0.00}x | {Median(sixteen, r => r.P99 / r.FloorP99):0.00}x |");
                Console.WriteLine(rows[^1]);
            }
        }
        finally
        {
            File.Delete(shim);
        }
        Console.WriteLine();
        Console.WriteLine("| flush made slower by | floor: p50 / p99, commits/s | 1 client p50 (target <= 1.5x) | 1 client p99 (<= 3x) | 16 clients: submits/s, x the floor's rate (>= 4x) | 16 clients p99 (<= 5x) |");
        Console.WriteLine("|---|---|---|---|---|---|");
        rows.ForEach(Console.WriteLine);
        Console.WriteLine($"load after: {MachineLoad.Average()}");
    }

    private sealed record Round(double FloorP50, double FloorP99, double FloorRate, double Rate, double P50, double P99);

    private static async Task<List<Round>> RoundsAsync(string shim, int extra, int clients, int rounds)
    {
        var info = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "ApprovalBot.Benchmarks.dll"), "--load", clients.ToString(CultureInfo.InvariantCulture), rounds.ToString(CultureInfo.InvariantCulture) })
        {
            info.ArgumentList.Add(arg);
        }
        info.Environment["LD_PRELOAD"] = shim;
        info.Environment["SLOW_FSYNC_US"] = extra.ToString(CultureInfo.InvariantCulture);
        info.Environment[ChildVariable] = "1";
        using var child = Process.Start(info) ?? throw new InvalidOperationException("could not start the sweep's child");
        var results = new List<Round>();
        while (await child.StandardOutput.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith(ResultPrefix, StringComparison.Ordinal))
            {
                continue;
            }
            var v = line[ResultPrefix.Length..].Split(' ').Select(x => double.Parse(x, CultureInfo.InvariantCulture)).ToArray();
            if (v[0] > 0)
            {
                results.Add(new Round(v[2], v[3], v[4], v[5], v[6], v[7]));
            }
        }
        await child.WaitForExitAsync();
        if (child.ExitCode != 0 || results.Count == 0)
        {
            throw new InvalidOperationException($"the sweep's child (--load {clients} {rounds}, {extra} us) exited {child.ExitCode} with {results.Count} rounds");
        }
        return results;
    }

    private static async Task<string> BuildShimAsync()
    {
        var source = Path.Combine(AppContext.BaseDirectory, "Native", "slow_fsync.c");
        var output = Path.Combine(Path.GetTempPath(), "ab-slow-fsync-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + ".so");
        var info = new ProcessStartInfo("gcc") { UseShellExecute = false };
        foreach (var arg in new[] { "-shared", "-fPIC", "-O2", "-Wall", "-o", output, source, "-ldl" })
        {
            info.ArgumentList.Add(arg);
        }
        using var gcc = Process.Start(info) ?? throw new InvalidOperationException("gcc did not start (apt-get install gcc)");
        await gcc.WaitForExitAsync();
        return gcc.ExitCode == 0 ? output : throw new InvalidOperationException($"gcc exited {gcc.ExitCode} building {source}");
    }

    private static double Median(List<Round> rounds, Func<Round, double> value)
    {
        var sorted = rounds.Select(value).Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static string Ms(List<Round> rounds, Func<Round, double> value) => Median(rounds, value).ToString("0.00", CultureInfo.InvariantCulture);
}
