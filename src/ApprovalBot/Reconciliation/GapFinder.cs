using System.Globalization;
using ApprovalBot.Drafts;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Reconciliation;

/// <summary>
/// Finds every gap class of DESIGN.md in the store. Each query is bounded by the state index (or the event
/// type index), so a report stays fast however many executed drafts the store holds; text is only read for
/// drafts in a decided-but-unexecuted state, to re-check their hash.
/// </summary>
internal sealed class GapFinder(DraftStore store, IOptionsMonitor<KindsOptions> kinds, IRouteLookup routes, IOptions<ReconciliationOptions> options, TimeProvider time)
{
    private const int Limit = 10_000;

    public IReadOnlyList<Gap> Find(string report) => report switch
    {
        Gaps.Orphans => Orphans(time.GetUtcNow()),
        Gaps.Stale => Stale(time.GetUtcNow()),
        _ => throw new ArgumentOutOfRangeException(nameof(report), report, "orphans or stale"),
    };

    public IReadOnlyList<Gap> All()
    {
        var now = time.GetUtcNow();
        return [.. Orphans(now), .. Stale(now)];
    }

    private List<Gap> Orphans(DateTimeOffset now)
    {
        var gaps = new List<Gap>();

        foreach (var d in store.InStates([DraftState.Blocked], limit: Limit))
        {
            gaps.Add(HandoffGap(d, "blocked: never executed"));
        }
        // Approvals not yet checked by an executor: the text must still be there and still be the approved text.
        foreach (var d in store.InStates([DraftState.Approved, DraftState.Executing], limit: Limit))
        {
            if (d.Text is null || DraftHash.Of(d.Text) != d.Sha256 || (d.DecisionSha256 is not null && d.DecisionSha256 != d.Sha256))
            {
                gaps.Add(HandoffGap(d, "approved, will be blocked before execution"));
            }
        }
        foreach (var d in store.InStates([DraftState.Pending], limit: Limit))
        {
            if (d.CardError is not null)
            {
                gaps.Add(Draft(Gaps.Orphans, Gaps.CardUndelivered, d, d.CreatedAt, $"card not delivered after {d.CardAttempts} attempt(s): {d.CardError}", [ApproverAction.Discard]));
            }
        }
        foreach (var d in store.InStates([DraftState.Approved], limit: Limit))
        {
            var route = routes.RouteType(d.Kind);
            if (route is not (null or "pull") || d.StateSince > now - StuckAfter(d.Kind)) continue;
            gaps.Add(route is null
                ? Draft(Gaps.Orphans, Gaps.NoRoute, d, d.StateSince, $"kind '{d.Kind}' has no executor route; nobody picks this up", [ApproverAction.Discard])
                : Draft(Gaps.Orphans, Gaps.PullUnclaimed, d, d.StateSince, $"no agent claimed it from the pull route of kind '{d.Kind}'", [ApproverAction.Discard]));
        }
        var since = now - options.Value.EventWindow;
        foreach (var e in store.EventsOfType("orphan_callback", since))
        {
            gaps.Add(new Gap(Gaps.Orphans, Gaps.OrphanCallback, e.DraftId, null, null, null, e.At,
                $"a button was pressed for a draft not in the store or bound to another text ({e.Actor}): {e.Details}")
            { Key = $"orphans:orphan_callback:{e.Id}" });
        }
        foreach (var e in store.EventsOfType("lease_expired", since))
        {
            var d = e.DraftId is null ? null : store.Get(e.DraftId);
            if (d is null || DraftStateMachine.IsFinal(d.State)) continue;
            gaps.Add(new Gap(Gaps.Orphans, Gaps.LeaseExpired, d.Id, d.Seq, d.Sha256, d.State.ToWire(), e.At,
                "a pull executor's lease expired without complete or fail; the draft went back to the queue")
            { Key = $"orphans:lease_expired:{e.Id}" });
        }
        return gaps;
    }

    private List<Gap> Stale(DateTimeOffset now)
    {
        var gaps = new List<Gap>();
        foreach (var d in store.InStates([DraftState.Pending, DraftState.Carded], limit: Limit))
        {
            if (d.StateSince <= now - StaleAfter(d.Kind))
            {
                gaps.Add(Draft(Gaps.Stale, Gaps.AwaitingDecision, d, d.CreatedAt, $"awaiting a decision for {Age(now - d.CreatedAt)}", []));
            }
        }
        foreach (var d in store.InStates([DraftState.Approved, DraftState.Executing], limit: Limit))
        {
            if (routes.RouteType(d.Kind) is "command" or "webhook" && d.DecidedAt is { } decided && decided <= now - StuckAfter(d.Kind))
            {
                gaps.Add(Draft(Gaps.Stale, Gaps.NotExecuted, d, decided,
                    $"approved {Age(now - decided)} ago, not executed ({d.ExecAttempts} attempt(s){(d.ExecError is null ? "" : ", last: " + d.ExecError)})", [ApproverAction.Discard]));
            }
        }
        foreach (var d in store.InStates([DraftState.Failed, DraftState.Unknown], limit: Limit))
        {
            gaps.Add(d.State == DraftState.Failed
                ? Draft(Gaps.Stale, Gaps.AwaitingHuman, d, d.StateSince, $"execution failed after {d.ExecAttempts} attempt(s): {d.ExecError}", [ApproverAction.Retry, ApproverAction.Discard])
                : Draft(Gaps.Stale, Gaps.AwaitingHuman, d, d.StateSince, "crashed mid-execution on a route that does not dedupe; check the sink, then Mark done or Retry", [ApproverAction.Retry, ApproverAction.MarkDone, ApproverAction.Discard]));
        }
        return gaps;
    }

    private static Gap HandoffGap(Draft d, string what)
    {
        var missing = d.Text is null;
        var detail = missing
            ? $"approval whose text is missing ({what}); approved sha256 {d.DecisionSha256 ?? d.Sha256}"
            : $"approval whose text changed ({what}); approved sha256 {d.DecisionSha256 ?? "?"}, stored {d.Sha256}, text now {DraftHash.Of(d.Text!)}";
        return Draft(Gaps.Orphans, missing ? Gaps.TextMissing : Gaps.TextChanged, d, d.DecidedAt ?? d.StateSince, detail, [ApproverAction.Discard]);
    }

    private static Gap Draft(string report, string name, Draft d, DateTimeOffset since, string detail, IReadOnlyList<ApproverAction> actions) =>
        new(report, name, d.Id, d.Seq, d.Sha256, d.State.ToWire(), since, detail)
        {
            Key = $"{report}:{name}:{d.Id}",
            Actions = actions,
        };

    private TimeSpan StaleAfter(string kind) =>
        kinds.CurrentValue.Kinds.TryGetValue(kind, out var k) ? k.StaleAfter : new KindOptions().StaleAfter;

    private TimeSpan StuckAfter(string kind) =>
        kinds.CurrentValue.Kinds.TryGetValue(kind, out var k) ? k.StuckAfter : new KindOptions().StuckAfter;

    internal static string Age(TimeSpan age) => age.TotalDays >= 1
        ? $"{(int)age.TotalDays}d {age.Hours}h"
        : age.TotalHours >= 1 ? $"{(int)age.TotalHours}h {age.Minutes}m" : $"{Math.Max(0, (int)age.TotalMinutes).ToString(CultureInfo.InvariantCulture)}m";
}
