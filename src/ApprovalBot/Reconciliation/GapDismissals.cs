using System.Globalization;
using System.Text.Json.Nodes;
using ApprovalBot.Drafts;

namespace ApprovalBot.Reconciliation;

/// <summary>
/// The approver's acknowledgement of a gap that needs nothing done to a draft: a stray tap (<c>orphan_callback</c>).
/// Without it such a gap would be reminded every <see cref="ReconciliationOptions.RemindEvery"/> for the whole
/// <see cref="ReconciliationOptions.EventWindow"/>. A dismissal is a ledger event of its own (draft id null, the
/// dismissed event's id in its details), so it survives restarts; the reports leave dismissed taps out by query (<see cref="DismissedIdsSql"/>).
/// </summary>
internal sealed class GapDismissals(DraftStore store)
{
    public const string EventType = "gap_dismissed";

    /// <summary>What a Dismiss button is bound to (as a decision button is bound to its text's hash).</summary>
    public static string Binding(long eventId) =>
        DraftHash.Of("dismiss:" + Gaps.OrphanCallback + ":" + eventId.ToString(CultureInfo.InvariantCulture));

    /// <summary>Dismisses the stray-tap gap of <paramref name="eventId"/>; false when there is no such gap or it was dismissed already.</summary>
    public Task<bool> DismissAsync(long eventId, string actor) =>
        store.WriteAsync(ctx =>
        {
            using (var cmd = ctx.Command("SELECT type FROM events WHERE id = $id", ("$id", eventId)))
            {
                if (cmd.ExecuteScalar() as string != Gaps.OrphanCallback)
                {
                    return false;
                }
            }
            using (var cmd = ctx.Command(
                "SELECT COUNT(*) FROM events WHERE type = $type" + DraftStore.ReportedTypesTerm + " AND draft_id IS NULL AND json_extract(details, '$.event_id') = $id",
                ("$type", EventType), ("$id", eventId)))
            {
                if (Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture) > 0)
                {
                    return false;
                }
            }
            var key = Key(eventId);
            ctx.AppendEvent(null, EventType, actor, new JsonObject { ["event_id"] = eventId, ["gap"] = Gaps.OrphanCallback, ["gap_key"] = key }.ToJsonString());
            ctx.Execute("UPDATE escalations SET resolved_at = $now WHERE gap_key = $key AND resolved_at IS NULL", ("$now", ctx.NowMs), ("$key", key));
            return true;
        });

    /// <summary>
    /// Ids of the events whose gaps were dismissed since <c>$since</c> (a dismissal comes after its event, so it is in
    /// the window of any event it closes). A search of events_reported_by_type: not events_by_draft, under which
    /// dismissals sit beside every refusal anyone can cause. Never NULL, so it can stand in <c>NOT IN (…)</c>.
    /// </summary>
    internal const string DismissedIdsSql =
        "SELECT json_extract(details, '$.event_id') FROM events WHERE type = '" + EventType + "'" + DraftStore.ReportedTypesTerm +
        " AND draft_id IS NULL AND at >= $since AND json_extract(details, '$.event_id') IS NOT NULL";

    public static string Key(long eventId) => $"{Gaps.Orphans}:{Gaps.OrphanCallback}:{eventId.ToString(CultureInfo.InvariantCulture)}";
}
