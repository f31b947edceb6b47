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

    public Task RecordAsync(CallbackQuery query, string? draftId, string reason, CancellationToken cancellationToken)
    {
        LogOrphan(draftId, reason, query.Data);
        return store.AppendEventAsync(draftId, EventType, CallbackRouter.Actor(query), CallbackRouter.Describe(query, reason).ToJsonString(), cancellationToken);
    }

    /// <summary>The same, inside a write that is already running (so the check and the record are one transaction).</summary>
    public static void Record(WriteContext ctx, CallbackQuery query, string? draftId, string reason) =>
        ctx.AppendEvent(draftId, EventType, CallbackRouter.Actor(query), CallbackRouter.Describe(query, reason).ToJsonString());

    [LoggerMessage(Level = LogLevel.Warning, Message = "Orphan callback for {DraftId}: {Reason} (data {CallbackData})")]
    public partial void LogOrphan(string? draftId, string reason, string? callbackData);
}
