using System.Diagnostics;
using System.Globalization;

namespace ApprovalBot.Benchmarks;

/// <summary>
/// `--threads [count] [host setting]...`: single-client submits to the real host (child process) after a warm-up
/// until the JIT is quiet, and per submit: which threads of the host and of this process ran (context switches,
/// CPU), from /proc, i.e. the wake-ups a submit costs. BENCH_HOST_DLL runs another build of the host; BENCH_PERF=FILE
/// records the host with perf meanwhile (with DOTNET_PerfMapEnabled=1 the JIT-compiled methods compiled during the
/// measurement are listed too: a measurement that still compiles is not steady state).
/// </summary>
internal static class ThreadProbe
{
    public static async Task RunAsync(int count, IReadOnlyList<string> settings)
    {
        var work = Path.Combine(Path.GetTempPath(), "ab-threads-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(work);
        try
        {
            await using var host = await HostUnderTest.StartAsync(work, settings, Environment.GetEnvironmentVariable("BENCH_HOST_DLL") is { Length: > 0 } dll ? dll : null);
            await using var client = await host.ConnectAsync();
            var w = 0;
            var took = await JitWarmup.UntilQuietAsync(async () => await client.SubmitAsync(PipeLoad.Draft($"reply:warm:{w++}")),
                [host.Pid, Environment.ProcessId], TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(30));
            Console.WriteLine($"warm-up: {w} submits, {took.TotalSeconds:0.0} s");
            await Task.Delay(200);
            Process? perf = null;
            if (Environment.GetEnvironmentVariable("BENCH_PERF") is { Length: > 0 } perfOut)
            {
                perf = Process.Start("perf", ["record", "-e", "cpu-clock", "-F", "4999", "-g", "-p", host.Pid.ToString(CultureInfo.InvariantCulture), "-o", perfOut]);
                await Task.Delay(1000);
            }
            var mapFile = $"/tmp/perf-{host.Pid}.map";
            var mapBefore = File.Exists(mapFile) ? File.ReadAllLines(mapFile).Length : 0;
            var hostBefore = Snapshot(host.Pid);
            var selfBefore = Snapshot(Environment.ProcessId);
            var samples = new Samples();
            for (var i = 0; i < count; i++)
            {
                var start = Stopwatch.GetTimestamp();
                var r = await client.SubmitAsync(PipeLoad.Draft($"reply:t:{i}"));
                samples.Add(Ms.Since(start));
                if (!r.Ok) throw new InvalidOperationException(r.Error?.Message);
            }
            var hostAfter = Snapshot(host.Pid);
            var selfAfter = Snapshot(Environment.ProcessId);
            if (perf is not null)
            {
                Process.Start("kill", ["-INT", perf.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
                await perf.WaitForExitAsync();
            }
            Console.WriteLine($"{count} submits, p50 {samples.P50:0.000} ms, p99 {samples.P99:0.000} ms, settings: {string.Join(' ', settings)}");
            Print("host", hostBefore, hostAfter, count);
            if (File.Exists(mapFile))
            {
                var jitted = File.ReadAllLines(mapFile).Skip(mapBefore).ToList();
                Console.WriteLine($"  host methods compiled during the measurement: {jitted.Count}");
                foreach (var g in jitted.GroupBy(l => l[(l.LastIndexOf('[') + 1)..]).OrderByDescending(g => g.Count())) Console.WriteLine($"    {g.Count(),6} {g.Key}");
                File.WriteAllLines("/tmp/jitted.txt", jitted);
            }
            Print("client", selfBefore, selfAfter, count);
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }

    internal sealed record ThreadStat(string Name, long Ticks, long Voluntary, long Involuntary);

    internal static Dictionary<int, ThreadStat> Snapshot(int pid)
    {
        var result = new Dictionary<int, ThreadStat>();
        foreach (var thread in ProcThreads.Of(pid))
        {
            try
            {
                long vol = 0, invol = 0;
                foreach (var line in File.ReadLines(Path.Combine(thread.Directory, "status")))
                {
                    if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal)) vol = long.Parse(line.Split(':')[1].Trim(), CultureInfo.InvariantCulture);
                    if (line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal)) invol = long.Parse(line.Split(':')[1].Trim(), CultureInfo.InvariantCulture);
                }
                result[int.Parse(Path.GetFileName(thread.Directory), CultureInfo.InvariantCulture)] = new ThreadStat(thread.Name, thread.Ticks, vol, invol);
            }
            catch (IOException)
            {
            }
        }
        return result;
    }

    internal static void Print(string label, Dictionary<int, ThreadStat> before, Dictionary<int, ThreadStat> after, int count)
    {
        double totalSw = 0, totalCpu = 0;
        var rows = new List<(string, double, double, double)>();
        foreach (var (tid, a) in after)
        {
            var b = before.GetValueOrDefault(tid) ?? new ThreadStat(a.Name, 0, 0, 0);
            var sw = (a.Voluntary - b.Voluntary) / (double)count;
            var inv = (a.Involuntary - b.Involuntary) / (double)count;
            var cpu = (a.Ticks - b.Ticks) * 10_000.0 / count;
            if (sw + inv < 0.01 && cpu < 0.5) continue;
            totalSw += sw;
            totalCpu += cpu;
            rows.Add(($"{a.Name} ({tid})", sw, inv, cpu));
        }
        Console.WriteLine($"  {label}: {totalSw:0.00} voluntary switches and {totalCpu:0} us CPU per submit");
        foreach (var (name, sw, inv, cpu) in rows.OrderByDescending(r => r.Item2))
        {
            Console.WriteLine($"    {name,-30} vol {sw,5:0.00}  invol {inv,5:0.00}  cpu {cpu,5:0} us");
        }
    }
}
