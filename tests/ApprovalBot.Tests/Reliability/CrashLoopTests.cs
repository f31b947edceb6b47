using System.Diagnostics;
using System.Globalization;
using ApprovalBot.Client;
using ApprovalBot.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ApprovalBot.Tests.Reliability;

/// <summary>
/// Issue 5, "Crash loop with a ledger": the real host killed with SIGKILL at random moments while agents submit,
/// the approver decides through the sandbox Bot API (with Bot API faults queued in some cycles) and a command
/// route writes effects to sinks that keep their own ledger. Then one clean start, settle, and the invariants.
/// Short run by default; a long one with
/// <c>APPROVALBOT_CRASH_CYCLES=2000 dotnet test tests/ApprovalBot.Tests --filter FullyQualifiedName~CrashLoop</c>
/// (<c>APPROVALBOT_CRASH_SEED</c> picks the seed of the kill moments, faults and choices).
/// </summary>
public sealed class CrashLoopTests(ITestOutputHelper output)
{
    private const int DefaultCycles = 30;
    private const int DefaultSeed = 5_2026;

    [Fact]
    public async Task KilledAtRandomMoments_NothingLostNothingDoneTwice()
    {
        var cycles = FromEnvironment("APPROVALBOT_CRASH_CYCLES", DefaultCycles);
        var seed = FromEnvironment("APPROVALBOT_CRASH_SEED", DefaultSeed);
        var clock = Stopwatch.StartNew();
        await using var rig = await CrashLoopRig.StartAsync(seed);
        for (var cycle = 0; cycle < cycles; cycle++)
        {
            await rig.CycleAsync();
        }
        var loopTime = clock.Elapsed;
        var host = await rig.FinishAsync(TimeSpan.FromSeconds(60));
        Report orphans, stale;
        try
        {
            await using var client = await host.ConnectAsync();
            orphans = (await client.ReportAsync("orphans")).Report!;
            stale = (await client.ReportAsync("stale")).Report!;
        }
        finally
        {
            await host.DisposeAsync();
        }

        var check = new LedgerCheck(rig, orphans, stale);
        check.Run();
        var f = rig.Figures;
        var t = rig.Traffic;
        output.WriteLine($"seed {seed}; {cycles} cycles in {loopTime.TotalSeconds:0.0} s, settled: {f.Settled} ({clock.Elapsed.TotalSeconds:0.0} s in all); data directory {rig.DataDirectory}");
        if (!f.Settled)
        {
            output.WriteLine("still moving when the settle gave up: " + f.SettleLeft);
        }
        output.WriteLine($"invariant violations: {check.Violations.Count}" + string.Concat(check.Violations.Take(10).Select(v => "\n  " + v)));
        output.WriteLine($"kills survived: {f.Kills}; largest WAL left by a kill: {f.LargestWalAtKill / 1_048_576.0:0.0} MB");
        output.WriteLine($"drafts stored: {check.Drafts}; receipts received: {t.Receipts.Count} ({t.Submits} submits answered, {t.ResentAfterKill} resent after a kill swallowed the answer, {t.SubmitErrors} answered unavailable)");
        output.WriteLine($"button presses: {t.Presses.Count} ({f.TapsInFlightAtKill.Count} still unconfirmed when a kill landed, {t.DuplicateCardsSeen} on a second copy of a card); decisions stored: {check.Decisions}; decisions acknowledged to the approver: {check.Acknowledged} (+{check.AcknowledgedAgain} taps answered with the stored decision)");
        output.WriteLine($"executions: {check.Executed} executed, {check.Unknown} unknown (crashed mid-run on the non-deduping route, reported), {check.Failed} failed; route runs: {check.Runs} ({f.CutOffExecutions} cut off by a kill), repeat runs absorbed by the deduping sink: {check.AbsorbedRepeats}");
        output.WriteLine($"Bot API faults injected: {f.FaultsInjected} (429: {f.TooManyRequests}, 5xx: {f.ServerErrors}, hangs past the timeout: {f.Hangs}, responses lost: {f.ResponsesLost})");
        output.WriteLine($"left for a human, listed by /orphans or /stale: {check.Reported}; drafts lost: {check.Lost}; double decisions: {check.DoubleDecisions}; double effects: {check.DoubleEffects}; updates applied twice: {check.UpdatesAppliedTwice}; integrity_check: {check.Integrity}");

        Assert.True(f.Settled, "the service did not settle after the last start: drafts, taps or executions were still moving with no progress");
        Assert.True(check.Violations.Count == 0, $"{check.Violations.Count} invariant violation(s):\n" + string.Join("\n", check.Violations.Take(50)));
        Assert.True(f.Kills == cycles);
        Assert.True(check.Drafts > cycles, "the loop produced too little traffic to prove anything");
        Assert.True(check.Decisions > 0 && check.Executed > 0, "no decision or execution happened");
    }

    private static int FromEnvironment(string name, int fallback) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;
}
