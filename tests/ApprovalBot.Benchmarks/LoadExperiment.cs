using System.Globalization;

namespace ApprovalBot.Benchmarks;

/// <summary>
/// `--load clients rounds [dll|-]...`: throughput and latency of concurrent clients against one host per build given
/// ("-" or none: this build), in interleaved rounds of 3 s, so that builds are compared under the same load; with the
/// host's threads' context switches and CPU per submit (which threads a submit keeps busy at that concurrency).
/// </summary>
internal static class LoadExperiment
{
    public static async Task RunAsync(int clients, int rounds, string[] builds)
    {
        var dlls = builds.Length > 0 ? builds.Select(d => d == "-" ? null : d).ToArray() : [null];
        var root = Path.Combine(Path.GetTempPath(), "ab-load-" + Guid.NewGuid().ToString("N")[..8]);
        var hosts = new List<HostUnderTest>();
        SqliteBaselines.FloorResult floor;
        try
        {
            foreach (var dll in dlls)
            {
                var dir = Path.Combine(root, hosts.Count.ToString(CultureInfo.InvariantCulture));
                Directory.CreateDirectory(dir);
                // "ideal", "ideal-pipelined" and "ideal-overlapped": IdealServer, this program as the child, in place of a build of the host.
                hosts.Add(dll is "ideal" or "ideal-pipelined" or "ideal-overlapped"
                    ? await HostUnderTest.StartAsync(dir, ["env:BENCH_IDEAL_SERVER=1", $"env:BENCH_IDEAL_PIPELINED={dll switch { "ideal" => 0, "ideal-pipelined" => 1, _ => 2 }}"],
                        Path.Combine(AppContext.BaseDirectory, "ApprovalBot.Benchmarks.dll"))
                    : await HostUnderTest.StartAsync(dir, null, dll));
            }
            for (var r = 0; r < rounds; r++)
            {
                // The floor in the same round, on the same disk and load, so each round's figures have their ratio.
                var floorDir = Path.Combine(root, "floor" + r.ToString(CultureInfo.InvariantCulture));
                Directory.CreateDirectory(floorDir);
                using (var floorRunner = new SqliteBaselines.FloorRunner(floorDir))
                {
                    floorRunner.Run(200, measure: false);
                    floorRunner.Run(3000);
                    floor = floorRunner.Result;
                    Console.WriteLine($"round {r} floor: p50 {floor.Latency.P50:0.000} p99 {floor.Latency.P99:0.000} ms, {floor.CommitsPerSecond:0} commits/s");
                }
                for (var h = 0; h < hosts.Count; h++)
                {
                    var res = await PipeLoad.Concurrent(hosts[h], clients, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3), blocking: true, hostThreads: true);
                    Console.WriteLine($"round {r} host {dlls[h] ?? "this build"}: {res.PerSecond:0}/s, p50 {res.Latency.P50:0.000} p99 {res.Latency.P99:0.000} ms, " +
                                      $"host {res.HostCpuUs:0} us, clients {res.ClientCpuUs:0} us per submit; " +
                                      $"{res.PerSecond / floor.CommitsPerSecond:0.00}x the floor's rate, p50 {res.Latency.P50 / floor.Latency.P50:0.00}x, p99 {res.Latency.P99 / floor.Latency.P99:0.00}x; load {File.ReadAllText("/proc/loadavg").Trim()}");
                    ThreadProbe.Print("host", res.HostThreads!.Value.Before, res.HostThreads.Value.After, (int)res.Submits);
                    if (FlushSweep.ChildOfASweep)
                    {
                        Console.WriteLine(FlushSweep.ResultLine(r, clients, floor, res));
                    }
                }
            }
        }
        finally
        {
            foreach (var host in hosts)
            {
                await host.DisposeAsync();
            }
            try { Directory.Delete(root, recursive: true); } catch (IOException) { }
        }
    }
}
