using ApprovalBot.Client;

namespace ApprovalBot.Benchmarks;

/// <summary>
/// `--probe [rounds] [slice]`: experiments, printed only. The decomposition of item 3 (floor, the transaction
/// directly, the store, ping and submit over the pipe in-process) plus the real host as a child process, all
/// interleaved. Knobs (environment): BENCH_PROBE_HOSTS, more child hosts, ';'-separated, each a space-separated list
/// of settings, where "dll=PATH" runs another build of the host (A/B against a baseline worktree) and "env:NAME=VALUE"
/// sets a variable of the host; BENCH_PROBE_SCHEMA, "name=SQL;..." variants of the direct transaction's schema ('|'
/// for ';' inside SQL); BENCH_PROBE_CHECKPOINTS=1, the direct transaction with checkpoints never or only beside the
/// commits; BENCH_PROBE_DIR, where the databases go (/dev/shm takes the disk out: CPU and thread hops only).
/// </summary>
internal static class ProbeExperiments
{
    public static async Task RunAsync(int rounds, int slice)
    {
        var work = Path.Combine(Environment.GetEnvironmentVariable("BENCH_PROBE_DIR") ?? Path.GetTempPath(), "ab-probe-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(work);
        var owned = new List<IAsyncDisposable>();
        try
        {
            await using var rig = await Probe.Rig.StartAsync(work);
            var stages = rig.Stages;
            foreach (var (name, alter) in Variants())
            {
                var tx = Probe.DirectTransaction.Create(Path.Combine(work, "direct-" + stages.Count), alter);
                owned.Add(new Closer(tx.Dispose));
                stages.Insert(2, new Probe.Stage("transaction, " + name, i => { tx.Submit($"reply:v:{i}"); return ValueTask.CompletedTask; }, tx.FramesNote));
            }
            if (Environment.GetEnvironmentVariable("BENCH_PROBE_CHECKPOINTS") == "1")
            {
                foreach (var mode in new[] { Probe.DirectTransaction.Checkpoints.Never, Probe.DirectTransaction.Checkpoints.Beside })
                {
                    var tx = Probe.DirectTransaction.Create(Path.Combine(work, "cp-" + mode), mode: mode);
                    owned.Add(new Closer(tx.Dispose));
                    stages.Insert(2, new Probe.Stage("transaction, checkpoints " + mode, i => { tx.Submit($"reply:cp:{i}"); return ValueTask.CompletedTask; }, tx.FramesNote));
                }
            }
            var pids = new List<int> { Environment.ProcessId };
            var hosts = (Environment.GetEnvironmentVariable("BENCH_PROBE_HOSTS") ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries).ToList();
            hosts.Insert(0, "");
            foreach (var settings in hosts)
            {
                var data = Path.Combine(work, "child-" + stages.Count);
                Directory.CreateDirectory(data);
                var parts = settings.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var dll = parts.FirstOrDefault(p => p.StartsWith("dll=", StringComparison.Ordinal))?[4..];
                var host = await HostUnderTest.StartAsync(data, parts.Where(p => !p.StartsWith("dll=", StringComparison.Ordinal)), dll);
                pids.Add(host.Pid);
                owned.Add(host);
                var client = await host.ConnectAsync();
                owned.Add(client);
                var label = settings.Length == 0 ? "child host, shipped config" : "child host, " + settings;
                stages.Add(new Probe.Stage(label, async i =>
                {
                    var r = await client.SubmitAsync(PipeLoad.Draft($"reply:child:{i}"));
                    if (!r.Ok) throw new InvalidOperationException(r.Error?.Message);
                }));
            }
            Console.WriteLine($"probe: {rounds} rounds x {slice} per stage, load {File.ReadAllText("/proc/loadavg").Trim()}");
            var result = await Probe.RunAsync(stages, rounds, slice, pids);
            Console.WriteLine(result.Table());
            Console.WriteLine($"load after: {File.ReadAllText("/proc/loadavg").Trim()}");
        }
        finally
        {
            for (var i = owned.Count - 1; i >= 0; i--)
            {
                await owned[i].DisposeAsync();
            }
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Schema variants of the direct transaction, from BENCH_PROBE_SCHEMA ("name=SQL;name=SQL", '|' for ';' in SQL).</summary>
    private static IEnumerable<(string Name, string Alter)> Variants() =>
        (Environment.GetEnvironmentVariable("BENCH_PROBE_SCHEMA") ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries)
            .Select(v => v.Split('=', 2)).Select(p => (p[0], p[1].Replace('|', ';')));

    private sealed class Closer(Action close) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            close();
            return ValueTask.CompletedTask;
        }
    }
}
