using System.Text.Json.Nodes;
using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Api;
using ApprovalBot.Telegram.Cards;
using ApprovalBot.Telegram.Escalations;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Telegram.Updates;

/// <summary>
/// The gate every button press passes: only an approver, in the approvers' chat, with callback data this bot
/// could have written. Anything else is answered, recorded in the ledger, and changes nothing.
/// </summary>
internal sealed partial class CallbackRouter(
    TelegramChat chat, DraftStore store, CallbackReplies replies, OrphanCallbacks orphans, DecisionHandler decisions, EscalationActionHandler escalations,
    ILogger<CallbackRouter> logger)
{
    public const string SecurityEvent = "security";

    public async Task HandleAsync(CallbackQuery query, CancellationToken cancellationToken)
    {
        var chatId = query.Message?.Chat.Id;
        var approver = chat.IsApprover(query.From.Id);
        if (!approver || !chat.IsApproversChat(chatId))
        {
            var reason = approver ? "wrong_chat" : "not_approver";
            // Once per callback query: the same update delivered again (offset not confirmed) adds nothing to the ledger.
            if (await store.WriteAsync(ctx => RefusalRecords.AppendOnce(ctx, null, SecurityEvent, query, reason)).ConfigureAwait(false))
            {
                LogUnauthorized(query.From.Id, RecordedText.Name(query.From), chatId, reason);
            }
            else
            {
                LogRedelivered(query.Id, reason);
            }
            await replies.AnswerAsync(query, "⛔ Not authorized.", alert: true, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (!CallbackData.TryParse(query.Data, out var data))
        {
            await orphans.RecordAsync(query, null, "malformed").ConfigureAwait(false);
            await replies.AnswerAsync(query, OrphanCallbacks.Answer, alert: true, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (data.IsDecision)
        {
            await decisions.HandleAsync(query, data, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await escalations.HandleAsync(query, data, cancellationToken).ConfigureAwait(false);
        }
    }

    public static string Actor(CallbackQuery query) => "telegram:" + query.From.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// The raw callback as the ledger keeps it: who, where, when, and what the button said (the name and data bounded, see
    /// <see cref="RecordedText"/>: a forged button can carry any length, and a refused one is recorded).
    /// </summary>
    public static JsonObject Describe(CallbackQuery query, string? reason = null)
    {
        var details = new JsonObject { ["query_id"] = query.Id, ["user_id"] = query.From.Id }
            .PutUser(query.From);
        details["chat_id"] = query.Message?.Chat.Id;
        details["message_id"] = query.Message?.MessageId;
        details.Put("data", query.Data);
        if (reason is not null)
        {
            details["reason"] = reason;
        }
        return details;
    }

    /// <summary>An accepted press as its ledger event keeps it: the raw callback and the hash prefix its button was bound to.</summary>
    public static JsonObject Describe(CallbackQuery query, CallbackData data)
    {
        var details = Describe(query);
        details["bound_sha256_prefix"] = data.HashPrefix;
        return details;
    }

    [LoggerMessage(Level = LogLevel.Warning, EventName = "SecurityUnauthorizedTap", Message = "Security: refused a button press by user {UserId} ({UserName}) in chat {ChatId}: {Reason}")]
    private partial void LogUnauthorized(long userId, string userName, long? chatId, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Refused button press {QueryId} ({Reason}) was delivered again; it is recorded already")]
    private partial void LogRedelivered(string queryId, string reason);
}
