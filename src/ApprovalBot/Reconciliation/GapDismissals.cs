using System.Globalization;
using System.Text.Json.Nodes;
using ApprovalBot.Drafts;

namespace ApprovalBot.Reconciliation;

/// <summary>
/// The approver's acknowledgement of a gap that needs nothing done to a draft: a stray tap (<c>orphan_callback</c>).
/// Without it such a gap would be reminded every <see cref="ReconciliationOptions.RemindEvery"/> for the whole
/// <see cref="ReconciliationOptions.EventWindow"/>. A dismissal is a ledger event of its own (draft id null, the
/// dismissed event's id in its details), so it survives restarts and is found through the ledger's draft index.
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

    /// <summary>Ids of the events whose gaps were dismissed since <paramref name="since"/>.</summary>
    public HashSet<long> Dismissed(DateTimeOffset since) => store.Read(connection =>
    {
        using var cmd = connection.CreateCommand();
        // events_reported_by_type: not events_by_draft, under which dismissals sit beside every refusal anyone can cause.
        cmd.CommandText = "SELECT json_extract(details, '$.event_id') FROM events WHERE type = $type" + DraftStore.ReportedTypesTerm + " AND draft_id IS NULL AND at >= $since";
        cmd.Parameters.AddWithValue("$type", EventType);
        cmd.Parameters.AddWithValue("$since", DraftColumns.ToUnixMs(since));
        using var reader = cmd.ExecuteReader();
        var ids = new HashSet<long>();
        while (reader.Read())
        {
            if (!reader.IsDBNull(0)) ids.Add(reader.GetInt64(0));
        }
        return ids;
    });

    public static string Key(long eventId) => $"{Gaps.Orphans}:{Gaps.OrphanCallback}:{eventId.ToString(CultureInfo.InvariantCulture)}";
}
