using ApprovalBot.Drafts;

namespace ApprovalBot.Telegram.Updates;

/// <summary>
/// Ledger records of refused interactions (security events, orphan callbacks), one per interaction. Telegram delivers
/// an update again when the bot's offset was not confirmed (a crash, a lost getUpdates answer), and handling it again
/// must change nothing: the same refused tap or command must not appear twice in the ledger, nor twice in /orphans.
/// </summary>
internal static class RefusalRecords
{
    /// <summary>
    /// Appends the event unless an event of the same type and draft already carries the same values at
    /// <paramref name="keys"/> (JSON paths into its details, e.g. <c>$.query_id</c>). Runs inside the write, so the check
    /// and the record are one transaction. True when the event was appended.
    /// </summary>
    public static bool AppendOnce(WriteContext ctx, string? draftId, string type, string actor, string detailsJson, params (string Path, object Value)[] keys)
    {
        // events_by_draft narrows the search to the draft's events, or to the events of no draft (refusals only).
        var sql = "SELECT 1 FROM events WHERE " + (draftId is null ? "draft_id IS NULL" : "draft_id = $draft") + " AND type = $type" +
            string.Concat(keys.Select((_, i) => $" AND json_extract(details, $p{i}) = $v{i}")) + " LIMIT 1";
        var parameters = new List<(string, object?)> { ("$type", type) };
        if (draftId is not null)
        {
            parameters.Add(("$draft", draftId));
        }
        for (var i = 0; i < keys.Length; i++)
        {
            parameters.Add(($"$p{i}", keys[i].Path));
            parameters.Add(($"$v{i}", keys[i].Value));
        }
        using (var cmd = ctx.Command(sql, [.. parameters]))
        {
            if (cmd.ExecuteScalar() is not null)
            {
                return false;
            }
        }
        ctx.AppendEvent(draftId, type, actor, detailsJson);
        return true;
    }

    /// <summary>A refused button press, once per callback query id.</summary>
    public static bool AppendOnce(WriteContext ctx, string? draftId, string type, Api.CallbackQuery query, string reason) =>
        AppendOnce(ctx, draftId, type, CallbackRouter.Actor(query), CallbackRouter.Describe(query, reason).ToJsonString(), ("$.query_id", query.Id));
}
