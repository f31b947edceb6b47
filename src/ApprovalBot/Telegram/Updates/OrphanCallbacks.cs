using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Api;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Telegram.Updates;

/// <summary>
/// Button presses that name no stored draft, or a draft whose text is not the one the button was shown
/// with. Recorded as <c>orphan_callback</c> ledger events (draft id null when the draft is not in the store)
/// for the reconciler's <c>/orphans</c>.
/// </summary>
internal sealed partial class OrphanCallbacks(DraftStore store, ILogger<OrphanCallbacks> logger)
{
    public const string EventType = "orphan_callback";

    public const string Answer = "⚠️ This button does not match a stored draft. Nothing changed; it was reported.";

    /// <summary>Records the refused press once per callback query: a redelivered update adds nothing. True when recorded now.</summary>
    public async Task<bool> RecordAsync(CallbackQuery query, string? draftId, string reason)
    {
        var recorded = await store.WriteAsync(ctx => Record(ctx, query, draftId, reason)).ConfigureAwait(false);
        Log(recorded, draftId, reason, query);
        return recorded;
    }

    /// <summary>The same, inside a write that is already running (so the check and the record are one transaction).</summary>
    public static bool Record(WriteContext ctx, CallbackQuery query, string? draftId, string reason) =>
        RefusalRecords.AppendOnce(ctx, draftId, EventType, query, reason);

    /// <summary>A warning for a new orphan; a redelivered one was reported already.</summary>
    public void Log(bool recorded, string? draftId, string reason, CallbackQuery query)
    {
        if (recorded)
        {
            LogOrphan(draftId, reason, query.Data is { } data ? RecordedText.Shorten(data) : null);
        }
        else
        {
            LogRedelivered(query.Id, draftId, reason);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Orphan callback for {DraftId}: {Reason} (data {CallbackData})")]
    private partial void LogOrphan(string? draftId, string reason, string? callbackData);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Callback query {QueryId} ({Reason}, draft {DraftId}) was delivered again; it is recorded already")]
    private partial void LogRedelivered(string queryId, string? draftId, string reason);
}
