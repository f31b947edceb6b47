using ApprovalBot.Drafts;

namespace ApprovalBot.Telegram.Updates;

/// <summary>
/// Ledger records of refused interactions (security events, orphan callbacks), one per interaction. Telegram delivers
/// an update again when the bot's offset was not confirmed (a crash, a lost getUpdates answer), and handling it again
/// must change nothing: the same refused tap or command must not appear twice in the ledger, nor twice in /orphans.
/// </summary>
internal static class RefusalRecords
{
    /// <summary>How long Telegram keeps an update it could not deliver (getUpdates).</summary>
    public static readonly TimeSpan RedeliveryHorizon = TimeSpan.FromHours(24);

    /// <summary>
    /// Appends the event unless an event of the same type and draft already carries the same values at
    /// <paramref name="keys"/> (JSON paths into its details, e.g. <c>$.query_id</c>). Runs inside the write, so the check
    /// and the record are one transaction. True when the event was appended.
    /// </summary>
    public static bool AppendOnce(WriteContext ctx, string? draftId, string type, string actor, string detailsJson, params (string Path, object Value)[] keys)
    {
        // A draft's events are few (events_by_draft). Events of no draft are searched by type and time
        // (events_reported_by_type) within Telegram's redelivery horizon: it keeps an update for 24 hours at most, so
        // a refusal older than that cannot come again, and anyone messaging the bot adds to the draft-less events.
        var sql = LookupSql(draftId is null, type, keys.Length);
        var parameters = new List<(string, object?)> { ("$type", type), ("$since", ctx.NowMs - (long)RedeliveryHorizon.TotalMilliseconds) };
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

    /// <summary>The look-up of <see cref="AppendOnce(WriteContext, string?, string, string, string, (string Path, object Value)[])"/>.</summary>
    internal static string LookupSql(bool draftless, string type, int keyCount)
    {
        var scope = draftless
            ? "draft_id IS NULL" + (DraftStore.ReportedEventTypes.Contains(type) ? DraftStore.ReportedTypesTerm : "") + " AND at >= $since"
            : "draft_id = $draft";
        return "SELECT 1 FROM events WHERE " + scope + " AND type = $type" +
            string.Concat(Enumerable.Range(0, keyCount).Select(i => $" AND json_extract(details, $p{i}) = $v{i}")) + " LIMIT 1";
    }

    /// <summary>A refused button press, once per callback query id.</summary>
    public static bool AppendOnce(WriteContext ctx, string? draftId, string type, Api.CallbackQuery query, string reason) =>
        AppendOnce(ctx, draftId, type, CallbackRouter.Actor(query), CallbackRouter.Describe(query, reason).ToJsonString(), ("$.query_id", query.Id));
}
