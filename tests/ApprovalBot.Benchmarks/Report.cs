using System.Globalization;
using System.Text;

namespace ApprovalBot.Benchmarks;

/// <summary>The results of one run, as a Markdown table of figure, target, ratio to the floor and verdict.</summary>
internal sealed class Report(bool smoke)
{
    public SqliteBaselines.FloorResult? Floor { get; set; }
    public SqliteBaselines.LoadResult? NaiveSingle { get; set; }
    public Dictionary<int, SqliteBaselines.LoadResult> Naive { get; } = [];
    public PipeLoad.Result? PipeSingle { get; set; }
    public PipeLoad.Result? PipeSingleAsync { get; set; }
    public PipeLoad.Result? PipeAsync16 { get; set; }
    public StoreConcurrency.Result? StoreAlone16 { get; set; }
    public Dictionary<int, PipeLoad.Result> Pipe { get; } = [];
    public Samples? CliPublished { get; set; }
    public Samples? CliJit { get; set; }
    public Samples? BareConsole { get; set; }
    public string? Decomposition { get; set; }
    public double? PipeHostPeakRssMb { get; set; }
    public Samples? Approve { get; set; }
    public string? BigStoreDescription { get; set; }
    public long BigStoreBytes { get; set; }
    public Samples? Startup { get; set; }
    public Timed? Orphans { get; set; }
    public Timed? Stale { get; set; }
    public Timed? ListNewest { get; set; }
    public Timed? ListCarded { get; set; }
    public Timed? ListRare { get; set; }
    public Timed? ListMiddle { get; set; }
    public Timed? ListCardedMiddle { get; set; }
    public double? BigPeakRssMb { get; set; }
    public int ConnectionResets { get; set; }
    public int Cores { get; set; }
    public string LoadBefore { get; set; } = "";
    public string LoadAfter { get; set; } = "";
    public TimeSpan Duration { get; set; }

    private readonly List<string> _rows = [];

    private void Row(string item, string measurement, string result, string target, string ratio, bool? met) =>
        _rows.Add($"| {item} | {measurement} | {result} | {target} | {ratio} | {(smoke || met is null ? "" : met.Value ? "met" : "**missed**")} |");

    private static string X(double value) => value.ToString("0.00", CultureInfo.InvariantCulture) + "x";

    private static string PerS(double value) => value.ToString("N0", CultureInfo.InvariantCulture) + "/s";

    public string Table()
    {
        _rows.Clear();
        _rows.Add("| # | Measurement | Result | Target | Ratio to floor | |");
        _rows.Add("|---|---|---|---|---|---|");
        var fp50 = Floor?.Latency.P50 ?? double.NaN;
        var fp99 = Floor?.Latency.P99 ?? double.NaN;
        var frate = Floor?.CommitsPerSecond ?? double.NaN;
        if (Floor is { } f)
        {
            Row("1", "Floor: one durable commit (single-row INSERT, own transaction, WAL, synchronous=FULL)",
                $"p50 {Ms.F(f.Latency.P50)} ms, p99 {Ms.F(f.Latency.P99)} ms, {PerS(f.CommitsPerSecond)}", "reference", "1.00x", null);
        }
        if (NaiveSingle is { } n1)
        {
            Row("2", "Naive baseline: open, insert, commit, close (1 loop)",
                $"p50 {Ms.F(n1.Latency.P50)} ms, p99 {Ms.F(n1.Latency.P99)} ms, {PerS(n1.PerSecond)}", "reference", $"p50 {X(n1.Latency.P50 / fp50)}, rate {X(n1.PerSecond / frate)}", null);
        }
        foreach (var (clients, n) in Naive.OrderBy(kv => kv.Key))
        {
            Row("2", $"Naive baseline, {clients} loops at once", $"{PerS(n.PerSecond)}, p99 {Ms.F(n.Latency.P99)} ms", "reference", $"rate {X(n.PerSecond / frate)}", null);
        }
        if (PipeSingle is { } s)
        {
            Row("3", "Pipe submit, 1 client (blocking `PipeClient.Submit`), until the durable receipt: p50", $"{Ms.F(s.Latency.P50)} ms", "<= 1.5x floor p50", X(s.Latency.P50 / fp50), s.Latency.P50 <= 1.5 * fp50);
            Row("3", "Pipe submit, 1 client: p99", $"{Ms.F(s.Latency.P99)} ms", "<= 3x floor p99", X(s.Latency.P99 / fp99), s.Latency.P99 <= 3 * fp99);
        }
        if (PipeSingleAsync is { } sa)
        {
            Row("3", "Pipe submit, 1 client with the async `PipeClient.SubmitAsync`: p50, p99", $"{Ms.F(sa.Latency.P50)} ms, {Ms.F(sa.Latency.P99)} ms", "(for comparison)", $"{X(sa.Latency.P50 / fp50)}, {X(sa.Latency.P99 / fp99)}", null);
        }
        if (Decomposition is { } d)
        {
            Row("3", "Where a submit's time goes (in-process host, interleaved with the floor)", d, "(explains item 3)", "", null);
        }
        foreach (var (clients, p) in Pipe.OrderBy(kv => kv.Key))
        {
            var naive = Naive.GetValueOrDefault(clients);
            var ahead = naive is null ? (bool?)null : p.PerSecond > naive.PerSecond;
            var aheadText = naive is null ? "" : $"; naive {PerS(naive.PerSecond)}";
            if (clients == 16)
            {
                Row("4", "Pipe submit, 16 clients: throughput", $"{PerS(p.PerSecond)}{aheadText}", ">= 4x floor commits/s, > naive", X(p.PerSecond / frate), p.PerSecond >= 4 * frate && ahead != false);
                Row("4", "Pipe submit, 16 clients: p99", $"{Ms.F(p.Latency.P99)} ms (p50 {Ms.F(p.Latency.P50)})", "<= 5x floor p99", X(p.Latency.P99 / fp99), p.Latency.P99 <= 5 * fp99);
                Row("4", "Pipe submit, 16 clients: CPU per submit (host / benchmark clients)", $"{p.HostCpuUs:0} us / {p.ClientCpuUs:0} us", "(explains the throughput)", "", null);
                if (PipeAsync16 is { } a16)
                {
                    Row("4", "Pipe submit, 16 async clients: throughput, p99, CPU per submit (host / clients)", $"{PerS(a16.PerSecond)}, p99 {Ms.F(a16.Latency.P99)} ms, {a16.HostCpuUs:0} us / {a16.ClientCpuUs:0} us", "(for comparison)", X(a16.PerSecond / frate), null);
                }
                if (StoreAlone16 is { } alone)
                {
                    Row("4", "The store alone: 16 concurrent submit loops in-process, no pipe: throughput, submits per commit, CPU per submit (all / the writer thread)",
                        $"{PerS(alone.PerSecond)}, {alone.Batch:0.0} per commit, {alone.CpuUs:0} us / {alone.WriterCpuUs:0} us", "(the ceiling for the 16-client rows)", X(alone.PerSecond / frate), null);
                }
            }
            else
            {
                Row("4", $"Pipe submit, {clients} clients: throughput, p99", $"{PerS(p.PerSecond)}, p99 {Ms.F(p.Latency.P99)} ms{aheadText}", "> naive at the same concurrency", $"rate {X(p.PerSecond / frate)}", ahead);
            }
        }
        if (CliPublished is { } cli)
        {
            Row("5", "`approvalctl submit`, process start to exit (published, ReadyToRun): median", $"{Ms.F(cli.P50)} ms (p90 {Ms.F(cli.Percentile(90))})", "<= 40 ms", X(cli.P50 / fp50), cli.P50 <= 40);
        }
        if (CliJit is { } jit)
        {
            Row("5", "`approvalctl submit` from the build output (`dotnet approvalctl.dll`, JIT): median", $"{Ms.F(jit.P50)} ms", "(for comparison)", X(jit.P50 / fp50), null);
        }
        if (BareConsole is { } bare)
        {
            Row("5", "A bare .NET console program (`dotnet x.dll`, returns at once): median", $"{Ms.F(bare.P50)} ms", "(reference: start-up floor of any .NET CLI)", "", null);
        }
        if (Approve is { } a)
        {
            Row("6", "Approve tap in the sandbox -> command route process started", $"p50 {Ms.F(a.P50)} ms, p99 {Ms.F(a.P99)} ms", "p99 <= 100 ms", "", a.P99 <= 100);
        }
        if (Orphans is { } o)
        {
            Row("7", $"1M store: `report orphans` ({o.Items} items)", $"p50 {Ms.F(o.Samples.P50)} ms, max {Ms.F(o.Samples.Max)} ms", "<= 50 ms", "", o.Samples.P50 <= 50);
        }
        if (Stale is { } st)
        {
            Row("7", $"1M store: `report stale` ({st.Items} items)", $"p50 {Ms.F(st.Samples.P50)} ms, max {Ms.F(st.Samples.Max)} ms", "<= 50 ms", "", st.Samples.P50 <= 50);
        }
        if (ListNewest is { } l)
        {
            Row("7", "1M store: `list` newest 50", $"p50 {Ms.F(l.Samples.P50)} ms, max {Ms.F(l.Samples.Max)} ms", "(no target)", "", null);
        }
        if (ListCarded is { } lc)
        {
            Row("7", "1M store: `list --state carded` newest 50", $"p50 {Ms.F(lc.Samples.P50)} ms, max {Ms.F(lc.Samples.Max)} ms", "(no target)", "", null);
        }
        if (ListRare is { } lr)
        {
            Row("7", $"1M store: `list --state unknown` newest 50 (a rare state: {lr.Items} drafts)", $"p50 {Ms.F(lr.Samples.P50)} ms, max {Ms.F(lr.Samples.Max)} ms", "(no target)", "", null);
        }
        if (ListMiddle is { } lm)
        {
            Row("7", "1M store: `list --before <the middle seq>` 50 (a page half the store back)", $"p50 {Ms.F(lm.Samples.P50)} ms, max {Ms.F(lm.Samples.Max)} ms", "(no target)", "", null);
        }
        if (ListCardedMiddle is { } lcm)
        {
            Row("7", "1M store: `list --state carded --before <the middle seq>` 50", $"p50 {Ms.F(lcm.Samples.P50)} ms, max {Ms.F(lcm.Samples.Max)} ms", "(no target)", "", null);
        }
        if (Startup is { } up)
        {
            Row("7", "1M store: host start-up until the pipe answers a ping", $"median {Ms.F(up.P50)} ms, max {Ms.F(up.Max)} ms ({up.Count} starts)", "<= 2 s", "", up.P50 <= 2000);
        }
        if (BigPeakRssMb is { } rss)
        {
            Row("7", "1M store: host peak RSS (VmHWM) after start-up, reports and lists", $"{rss:0} MB", "<= 200 MB", "", rss <= 200);
            Row("7", "Fresh connections reset by the service before their first request (retried once)", ConnectionResets.ToString(CultureInfo.InvariantCulture), "0 (a bug, see below)", "", null);
        }
        return string.Join('\n', _rows);
    }

    public void WriteDocument(string path)
    {
        var table = Table();
        var text = new StringBuilder();
        text.AppendLine("# Performance");
        text.AppendLine();
        text.AppendLine("<!-- Generated by tests/ApprovalBot.Benchmarks; the analysis below the results is kept in Analysis.md there. -->");
        text.AppendLine();
        text.AppendLine("Run: `dotnet run --project tests/ApprovalBot.Benchmarks -c Release` (all seven measurements, about " +
                        $"{Math.Ceiling(Duration.TotalMinutes):0} min here; writes this file). `-- --smoke` is the tiny run CI does; `-- --soak <minutes>` the leak hunt (see \"Soak\" below).");
        text.AppendLine();
        text.AppendLine($"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Cores} cores ({Environment.OSVersion}, .NET {Environment.Version}), " +
                        $"load average {LoadBefore} before and {LoadAfter} after the run (1/5/15 min), every database on the same ext4 disk " +
                        $"(the system temp folder). Run time {Duration.TotalSeconds:0} s.");
        text.AppendLine();
        text.AppendLine(table);
        text.AppendLine();
        if (BigStoreDescription is not null)
        {
            text.AppendLine($"Store for item 7: {BigStoreDescription}; {BigStoreBytes / 1e6:0} MB on disk. " +
                            (PipeHostPeakRssMb is { } pr ? $"(The host of items 3-5 peaked at {pr:0} MB.)" : ""));
            text.AppendLine();
        }
        var analysis = Path.Combine(Path.GetDirectoryName(path)!, "..", "tests", "ApprovalBot.Benchmarks", "Analysis.md");
        if (File.Exists(analysis))
        {
            text.AppendLine(File.ReadAllText(analysis).TrimEnd());
            text.AppendLine();
        }
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text.ToString());
    }
}
