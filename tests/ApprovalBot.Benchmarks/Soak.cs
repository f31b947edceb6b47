using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using ApprovalBot.Sandbox;

namespace ApprovalBot.Benchmarks;

/// <summary>
/// `--soak minutes [--sample seconds] [--idle minutes] [--keep]`: the leak hunt. The real host (a child process, as in
/// items 3-7) runs against a Bot API sandbox in this process under <see cref="SoakWorkload"/>'s steady mixed traffic for
/// the given minutes, with short executor and reconcile intervals so every path turns over many times. Every sample
/// reads the host's RSS, file descriptors, threads, CPU, database, WAL and logs; at the end a table of the samples
/// and, per metric, a least-squares line through the second half (after warm-up), as growth per hour with its
/// uncertainty. Then the host is stopped (SIGTERM), started again on the same data with the shipped intervals, and left
/// without traffic for the idle minutes: what it does per minute on its own (CPU, log lines, writes, Bot API calls).
/// </summary>
internal static class Soak
{
    public sealed record Options(TimeSpan Duration, TimeSpan Sample, TimeSpan Idle, bool Keep, bool Smoke);

    public static Options Parse(string[] args)
    {
        double Arg(string name, double fallback) =>
            args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() is { } v ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;
        var minutes = args.Length > 1 && !args[1].StartsWith("--", StringComparison.Ordinal) ? double.Parse(args[1], CultureInfo.InvariantCulture) : 10;
        // About 40 samples whatever the length, never more often than every 2 s.
        var sample = Arg("--sample", Math.Clamp(minutes * 60 / 40, 2, 60));
        return new Options(TimeSpan.FromMinutes(minutes), TimeSpan.FromSeconds(sample), TimeSpan.FromMinutes(Arg("--idle", 3)), args.Contains("--keep"), Smoke: false);
    }

    private const string Route = """
        #!/bin/sh
        # The soak's command route: the draft id says how the sink behaves.
        cat > /dev/null
        case "$APPROVAL_ID" in
          *:fail) echo "the sink refused $APPROVAL_ID" >&2; exit 1 ;;
          *:slow) sleep 5 ;;
        esac
        echo "https://sink.example/$APPROVAL_ID"
        """;

    public static async Task RunAsync(Options options)
    {
        var root = Path.Combine(Path.GetTempPath(), "ab-soak-" + Guid.NewGuid().ToString("N")[..8]);
        var data = Path.Combine(root, "data");
        Directory.CreateDirectory(data);
        var script = Path.Combine(root, "route.sh");
        File.WriteAllText(script, Route.Replace("\r\n", "\n", StringComparison.Ordinal) + "\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Console.WriteLine($"Soak: {options.Duration.TotalMinutes:0.##} min of traffic, a sample every {options.Sample.TotalSeconds:0.#} s, " +
                          $"then {options.Idle.TotalMinutes:0.##} min idle; {Environment.ProcessorCount} cores, load {MachineLoad.Average()}; data under {data}");
        try
        {
            await using var sandbox = await SandboxServer.StartAsync(new SandboxSettings { Url = "http://127.0.0.1:0", RateLimits = false });
            var host = await HostUnderTest.StartAsync(data, [.. Settings(sandbox, script), .. SoakIntervals]);
            List<SoakSample> samples;
            SoakWorkload workload;
            try
            {
                (samples, workload) = await TrafficAsync(host, sandbox, data, options);
                var probe = new SoakProbe(host, data);
                Console.WriteLine();
                Console.WriteLine(Table(samples));
                Console.WriteLine();
                Console.WriteLine(Verdicts(samples, options.Smoke));
                Console.WriteLine();
                Console.WriteLine("Traffic: " + string.Join(", ", workload.Counts.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key} {c.Value}")));
                Console.WriteLine("Drafts by state: " + probe.States());
                Console.WriteLine("Ledger events by type: " + probe.EventTypes());
                Console.WriteLine("Log lines by message template (JSON log, most frequent first): " + LogTemplates(data, 12));
                Console.WriteLine("Bot API calls by method: " + string.Join(", ", sandbox.Control.GetCalls().GroupBy(c => c.Method).OrderByDescending(g => g.Count()).Select(g => $"{g.Key} {g.Count()}")));
                // The stop an operator's supervisor would send; what was running records its interruption.
                await host.StopAsync(TimeSpan.FromSeconds(40));
            }
            finally
            {
                await host.DisposeAsync();
            }
            if (options.Idle > TimeSpan.Zero)
            {
                await IdleAsync(sandbox, data, script, options.Idle);
            }
        }
        finally
        {
            if (options.Keep)
            {
                Console.WriteLine($"Kept {root}");
            }
            else
            {
                try { Directory.Delete(root, recursive: true); } catch (IOException) { }
            }
        }
    }

    private static IEnumerable<string> Settings(SandboxServer sandbox, string script) =>
    [
        .. HostUnderTest.SandboxTelegram(sandbox),
        $"ApprovalBot:Kinds:{SoakWorkload.ReplyKind}:Executor:Type=command",
        $"ApprovalBot:Kinds:{SoakWorkload.ReplyKind}:Executor:Command:0={script}",
        $"ApprovalBot:Kinds:{SoakWorkload.ReplyKind}:Executor:TimeoutSeconds=1",
        $"ApprovalBot:Kinds:{SoakWorkload.ReplyKind}:Executor:MaxAttempts=2",
        $"ApprovalBot:Kinds:{SoakWorkload.DmKind}:MaxLength=4000",
        $"ApprovalBot:Kinds:{SoakWorkload.DmKind}:Executor:Type=command",
        $"ApprovalBot:Kinds:{SoakWorkload.DmKind}:Executor:Command:0={script}",
        $"ApprovalBot:Kinds:{SoakWorkload.DmKind}:Executor:TimeoutSeconds=1",
        $"ApprovalBot:Kinds:{SoakWorkload.DmKind}:Executor:MaxAttempts=2",
        $"ApprovalBot:Kinds:{SoakWorkload.DmKind}:Executor:Idempotent=true",
        $"ApprovalBot:Kinds:{SoakWorkload.PostKind}:Executor:Type=pull",
        .. new[] { SoakWorkload.ReplyKind, SoakWorkload.DmKind, SoakWorkload.PostKind }.SelectMany(kind => new[]
        {
            // Late decisions go stale (and are escalated) before they come; a pull draft left unclaimed is reported.
            $"ApprovalBot:Kinds:{kind}:StaleAfter=00:00:20",
            $"ApprovalBot:Kinds:{kind}:StuckAfter=00:00:30",
        }),
    ];

    /// <summary>Short intervals, so retries, reconcile passes and reminders turn over many times in minutes.</summary>
    private static readonly string[] SoakIntervals =
    [
        "ApprovalBot:Execution:IntervalSeconds=5",
        "ApprovalBot:Execution:RetryBaseSeconds=1",
        "ApprovalBot:Execution:RetryMaxSeconds=2",
        "ApprovalBot:Reconciliation:IntervalSeconds=5",
        "ApprovalBot:Reconciliation:RemindEvery=00:01:00",
    ];

    private static async Task<(List<SoakSample>, SoakWorkload)> TrafficAsync(HostUnderTest host, SandboxServer sandbox, string data, Options options)
    {
        var probe = new SoakProbe(host, data);
        var workload = new SoakWorkload(host, sandbox, seed: 20261123);
        using var stop = new CancellationTokenSource();
        var traffic = workload.RunAsync(stop.Token);
        var clock = Stopwatch.StartNew();
        var samples = new List<SoakSample> { probe.Read(0, 0, workload.TakeSubmitLatencies()) };
        try
        {
            for (var n = 1; clock.Elapsed < options.Duration; n++)
            {
                var next = TimeSpan.FromTicks(options.Sample.Ticks * n);
                if (next > clock.Elapsed) await Task.Delay(next - clock.Elapsed);
                if (host.HasExited) throw new InvalidOperationException($"The host exited during the soak:\n{host.Tail}");
                if (traffic.IsFaulted) await traffic;
                var s = probe.Read(clock.Elapsed.TotalSeconds, workload.Requests, workload.TakeSubmitLatencies());
                samples.Add(s);
                if (!options.Smoke)
                {
                    Console.WriteLine($"  {s.Seconds / 60,5:0.0} min  RSS {s.RssMb,6:0.0} MB  fds {s.Fds,4} ({s.Sockets} sockets)  threads {s.Threads,3}  " +
                                      $"drafts {s.Drafts,6}  events {s.Events,7}  requests {s.Requests,7}  WAL {s.WalUsedMb,4:0.0} / {s.WalMb,4:0.0} MB  logs {s.LogsMb,5:0.0} MB  load {MachineLoad.Average()}");
                }
            }
        }
        finally
        {
            await stop.CancelAsync();
            await traffic;
        }
        return (samples, workload);
    }

    /// <summary>The samples, at most about 40 rows; rates are over the interval before each row.</summary>
    internal static string Table(IReadOnlyList<SoakSample> samples)
    {
        var text = new StringBuilder();
        text.AppendLine("| min | RSS MB | fds (sockets) | threads | host CPU % | requests/s | submit p50 / p99 ms | drafts | events | db MB | WAL in use / file MB | logs MB | log lines/min |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        var every = Math.Max(1, (int)Math.Ceiling(samples.Count / 40.0));
        for (var i = 0; i < samples.Count; i += every)
        {
            var s = samples[i];
            var p = i == 0 ? null : samples[i - every];
            var dt = p is null ? double.NaN : s.Seconds - p.Seconds;
            string Rate(double now, double before, double scale) => p is null ? "" : ((now - before) / dt * scale).ToString("0", CultureInfo.InvariantCulture);
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {s.Seconds / 60:0.0} | {s.RssMb:0.0} | {s.Fds} ({s.Sockets}) | {s.Threads} | {Rate(s.CpuSeconds, p?.CpuSeconds ?? 0, 100)} | " +
                $"{Rate(s.Requests, p?.Requests ?? 0, 1)} | {(double.IsNaN(s.SubmitP50) ? "" : $"{Ms.F(s.SubmitP50)} / {Ms.F(s.SubmitP99)}")} | " +
                $"{s.Drafts} | {s.Events} | {s.DbMb:0.0} | {s.WalUsedMb:0.0} / {s.WalMb:0.0} | {s.LogsMb:0.00} | {Rate(s.LogLines, p?.LogLines ?? 0, 60)} |");
        }
        return text.ToString().TrimEnd();
    }

    private sealed record Metric(string Name, string Unit, Func<SoakSample, double> Value, double Tolerance, bool Data = false, string? HighWater = null);

    private static readonly Metric[] Metrics =
    [
        new("RSS", "MB", s => s.RssMb, 2),
        new("open file descriptors", "", s => s.Fds, 2),
        new("  of them sockets", "", s => s.Sockets, 2),
        new("  of them pipes", "", s => s.Pipes, 2),
        new("threads", "", s => s.Threads, 2),
        new("WAL in use", "MB", s => s.WalUsedMb, 1),
        new("WAL file", "MB", s => s.WalMb, 1, HighWater: "high-water mark of the WAL in use, cut back to 64 MB when it starts over"),
        new("drafts", "", s => s.Drafts, 0, Data: true),
        new("ledger events", "", s => s.Events, 0, Data: true),
        new("database", "MB", s => s.DbMb, 0, Data: true),
        new("logs", "MB", s => s.LogsMb, 0, Data: true),
    ];

    /// <summary>
    /// Per metric, the line through the second half of the samples: growth per hour ± two standard errors. A metric
    /// that should stay flat "grows" when the whole interval is above zero and the line rises by more than its
    /// tolerance over that half; otherwise the upper end says how much growth this run can rule out. Data (drafts,
    /// ledger, database, logs) grows by design: shown per draft.
    /// </summary>
    internal static string Verdicts(IReadOnlyList<SoakSample> samples, bool smoke)
    {
        var half = samples.Skip(samples.Count / 2).ToList();
        var text = new StringBuilder();
        var hours = half.Count > 1 ? (half[^1].Seconds - half[0].Seconds) / 3600 : 0;
        text.AppendLine(CultureInfo.InvariantCulture, $"Second half: {half.Count} samples over {hours * 60:0.0} min (from minute {half[0].Seconds / 60:0.0}).");
        text.AppendLine("| metric | at start | 2nd half from | to | per hour (±2 SE) | R² | verdict |");
        text.AppendLine("|---|---|---|---|---|---|---|");
        var draftsFit = LinearFit.Of(half.Select(s => (s.Seconds / 3600, (double)s.Drafts)).ToList());
        var cpu = Interval(half, s => s.CpuSeconds * 1000, s => s.Requests);
        foreach (var m in Metrics)
        {
            var fit = LinearFit.Of(half.Select(s => (s.Seconds / 3600, m.Value(s))).ToList());
            string verdict;
            if (smoke || double.IsNaN(fit.Slope))
            {
                verdict = "(too short to judge)";
            }
            else if (m.HighWater is not null)
            {
                verdict = m.HighWater;
            }
            else if (m.Data)
            {
                var perDraft = draftsFit.Slope > 0 ? fit.Slope / draftsFit.Slope : double.NaN;
                verdict = $"data, grows with use: {Num(m.Unit == "MB" ? perDraft * 1e6 : perDraft)}{(m.Unit == "MB" ? " bytes" : "")} per draft";
            }
            else if (fit.Lower > 0 && fit.Slope * hours > m.Tolerance)
            {
                verdict = "**GROWS**";
            }
            else
            {
                verdict = $"flat (at most {Num(Math.Max(0, fit.Upper))} {m.Unit}/h)".Replace(" /h", "/h", StringComparison.Ordinal);
            }
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {m.Name}{(m.Unit.Length > 0 ? $" ({m.Unit})" : "")} | {Num(m.Value(samples[0]))} | {Num(m.Value(half[0]))} | {Num(m.Value(half[^1]))} | " +
                $"{Num(fit.Slope)} ± {Num(2 * fit.StandardError)} | {fit.RSquared:0.00} | {verdict} |");
        }
        if (cpu.Count >= 3)
        {
            var fit = LinearFit.Of(cpu);
            var mean = cpu.Average(p => p.Y);
            var verdict = smoke ? "(too short to judge)" : fit.Lower > 0 && fit.Slope * hours > 0.1 * mean ? "**GROWS**" : $"flat (at most {Num(Math.Max(0, fit.Upper))} ms/h)";
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| host CPU per request (ms) | | {Num(cpu[0].Y)} | {Num(cpu[^1].Y)} | {Num(fit.Slope)} ± {Num(2 * fit.StandardError)} | {fit.RSquared:0.00} | {verdict} |");
        }
        return text.ToString().TrimEnd();
    }

    /// <summary>Per interval between samples: the change of <paramref name="numerator"/> per unit of <paramref name="denominator"/>.</summary>
    private static List<(double X, double Y)> Interval(IReadOnlyList<SoakSample> samples, Func<SoakSample, double> numerator, Func<SoakSample, double> denominator)
    {
        var points = new List<(double, double)>();
        for (var i = 1; i < samples.Count; i++)
        {
            var d = denominator(samples[i]) - denominator(samples[i - 1]);
            if (d > 0) points.Add((samples[i].Seconds / 3600, (numerator(samples[i]) - numerator(samples[i - 1])) / d));
        }
        return points;
    }

    private static string Num(double value) =>
        double.IsNaN(value) ? "n/a"
        : Math.Abs(value) >= 100 ? value.ToString("0", CultureInfo.InvariantCulture)
        : Math.Abs(value) >= 10 ? value.ToString("0.0", CultureInfo.InvariantCulture)
        : value.ToString("0.00", CultureInfo.InvariantCulture);

    /// <summary>
    /// The host with the shipped intervals on the soak's data, left alone: a minute to settle (start-up work, the runs
    /// the stop cut off), then samples every 30 s; per minute what it did on its own.
    /// </summary>
    private static async Task IdleAsync(SandboxServer sandbox, string data, string script, TimeSpan idle)
    {
        Console.WriteLine();
        Console.WriteLine($"Idle: the host started again on the same data with the shipped intervals, no traffic; 60 s to settle, then {idle.TotalMinutes:0.#} min.");
        await using var host = await HostUnderTest.StartAsync(data, Settings(sandbox, script));
        var probe = new SoakProbe(host, data);
        await Task.Delay(TimeSpan.FromSeconds(60));
        var calls = sandbox.Control.GetCalls().Count;
        var first = probe.Read(0, 0, new Samples());
        var samples = new List<SoakSample> { first };
        var clock = Stopwatch.StartNew();
        var step = TimeSpan.FromSeconds(Math.Min(30, idle.TotalSeconds));
        var dbWrites = 0;
        while (clock.Elapsed < idle)
        {
            await Task.Delay(step);
            var s = probe.Read(clock.Elapsed.TotalSeconds, 0, new Samples());
            if (s.DbWritten != samples[^1].DbWritten) dbWrites++;
            samples.Add(s);
        }
        var last = samples[^1];
        var minutes = last.Seconds / 60;
        string PerMin(double d) => (d / minutes).ToString("0.#", CultureInfo.InvariantCulture);
        var byMethod = sandbox.Control.GetCalls().Skip(calls).GroupBy(c => c.Method).Select(g => $"{g.Key} {PerMin(g.Count())}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Idle per minute over {minutes:0.0} min: host CPU {PerMin((last.CpuSeconds - first.CpuSeconds) * 1000)} ms, " +
            $"JSON log lines {PerMin(last.LogLines - first.LogLines)}, console lines {PerMin(last.ConsoleLines - first.ConsoleLines)}, " +
            $"ledger events {PerMin(last.Events - first.Events)}, database or WAL modified in {dbWrites} of {samples.Count - 1} intervals, " +
            $"storage writes {PerMin((last.StorageBytes - first.StorageBytes) / 1024.0)} KB, write calls {PerMin(last.WriteCalls - first.WriteCalls)}, " +
            $"Bot API calls: {string.Join(", ", byMethod)}; RSS {first.RssMb:0.0} -> {last.RssMb:0.0} MB, threads {first.Threads} -> {last.Threads}, fds {first.Fds} -> {last.Fds}."));
        Console.WriteLine("Idle log lines by message template: " + LogTemplates(data, 8, since: DateTimeOffset.UtcNow - clock.Elapsed));
    }

    /// <summary>The JSON log's lines counted by message template, most frequent first.</summary>
    private static string LogTemplates(string data, int top, DateTimeOffset? since = null)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var folder = Path.Combine(data, "logs");
        if (!Directory.Exists(folder)) return "none";
        foreach (var file in Directory.EnumerateFiles(folder))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            while (reader.ReadLine() is { } line)
            {
                try
                {
                    using var doc = JsonDocument.Parse(line);
                    var root = doc.RootElement;
                    if (since is { } from && root.TryGetProperty("Timestamp", out var ts) && ts.GetDateTimeOffset() < from) continue;
                    var template = root.TryGetProperty("MessageTemplate", out var t) ? t.GetString() ?? "?" : "?";
                    var level = root.TryGetProperty("Level", out var l) ? l.GetString() : "Information";
                    var key = $"{level}: {(template.Length > 70 ? template[..70] + "…" : template)}";
                    counts[key] = counts.GetValueOrDefault(key) + 1;
                }
                catch (JsonException)
                {
                    counts["(not JSON)"] = counts.GetValueOrDefault("(not JSON)") + 1;
                }
            }
        }
        return counts.Count == 0 ? "none" : string.Join("; ", counts.OrderByDescending(c => c.Value).Take(top).Select(c => $"{c.Value} × {c.Key}"));
    }
}
