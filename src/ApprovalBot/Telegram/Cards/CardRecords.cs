using System.Text.Json.Nodes;
using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Api;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Telegram.Cards;

/// <summary>
/// What the store says about a draft's card: which message is its card on record (<c>card_chat_id</c>,
/// <c>card_message_id</c>, or none when it went out unconfirmed), which state that card shows (<c>card_shown_state</c>,
/// <c>card_shown_since</c>), and the ledger events that change them. Every write is a compare-and-set on the card on
/// record, so a card moved or replaced meanwhile keeps its own record. The Bot API calls whose outcome is recorded here
/// are <see cref="CardSender"/>'s, which records what an edit showed (<see cref="RecordShownAsync"/>, <see cref="RecordLeftAsync"/>)
/// in the card's edit lane, so an older edit's record never overwrites a newer one's.
/// </summary>
internal sealed partial class CardRecords(DraftStore store, TelegramChat chat, ILogger<CardRecords> logger)
{
    public const string MovedEvent = "card_moved";

    /// <summary>
    /// A card most likely in the approvers' chat whose message id is unknown: Telegram took the send (HTTP 200) but its answer
    /// could not be read. The draft is <c>carded</c> with no message on record (<c>card_chat_id</c> the chat it went to,
    /// <c>card_message_id</c> null, <c>card_error</c> saying so): a tap on the copy decides and makes it the card on record,
    /// and the reconciler reports it (<c>card_unconfirmed</c>) with Resend card, which sends one that is recorded.
    /// </summary>
    public const string UnconfirmedEvent = "card_unconfirmed";

    private const string Actor = "telegram";

    /// <summary>
    /// Records <paramref name="sent"/>, a card sent again (<see cref="CardSender.SendAsync"/>) showing <paramref name="shown"/>, as
    /// the draft's card in place of the one at <paramref name="oldChatId"/>/<paramref name="oldMessageId"/>, with a
    /// <see cref="MovedEvent"/> giving <paramref name="reason"/>. Compare-and-set on the old card: false when the card on
    /// record is another one by now, and then nothing is written.
    /// </summary>
    /// <param name="actor">Who had it sent again (the ledger event's actor); the service itself when null.</param>
    /// <param name="details">More for the ledger event's details, e.g. who asked and how.</param>
    public Task<bool> RecordMovedAsync(Draft shown, long? oldChatId, long? oldMessageId, SentCard sent, string reason, string? actor = null, JsonObject? details = null) =>
        store.WriteAsync(ctx => RecordMove(ctx, shown, oldChatId, oldMessageId, sent, reason, actor, details));

    /// <summary>
    /// Records that the card of <paramref name="draft"/>, sent again (<paramref name="reason"/>) into <paramref name="chatId"/>
    /// (the approvers' chat when null) in place of its card on record, most likely went out, but <paramref name="unreadable"/>:
    /// Telegram's answer could not be read. The draft keeps no message on record (<see cref="UnconfirmedEvent"/>, with
    /// <paramref name="details"/>; <c>card_error</c> says so), so nothing sends that card again unasked, and a tap on the copy
    /// decides and makes it the card on record. Compare-and-set on the old card, and, unless <paramref name="anyState"/>, on
    /// the draft still awaiting a decision with its card: false when that changed meanwhile (nothing is written), or when the
    /// store could not take the write (logged here); the old card stays on record then.
    /// </summary>
    /// <param name="actor">Who had it sent again (the ledger event's actor); the service itself when null.</param>
    public async Task<bool> RecordUnconfirmedAsync(
        Draft draft, string reason, ApiRequestException unreadable, JsonObject? details = null, long? chatId = null, string? actor = null, bool anyState = false)
    {
        var to = chatId ?? chat.ChatId;
        var error = $"{unreadable.Description} ({unreadable.Method}): the card sent again ({reason}) is most likely in chat {to}, but Telegram's answer could " +
            "not be read, so it has no message on record; not sent again unasked. ";
        // Chosen by the state the write finds (a card following its group to a supergroup is recorded in any state): the
        // buttons and Resend card are there only while the draft awaits a decision.
        var awaiting = error + "A tap on it decides once; Resend card (/card) sends one that is recorded";
        var decided = error + "The draft no longer awaits a decision: the card has no buttons, and its later outcomes are not shown on a card";
        var json = new JsonObject
        {
            ["chat_id"] = to, ["from_chat_id"] = draft.CardChatId, ["from_message_id"] = draft.CardMessageId, ["reason"] = reason, ["method"] = unreadable.Method,
            ["description"] = unreadable.Description,
        };
        foreach (var (name, value) in details ?? [])
        {
            json[name] = value?.DeepClone();
        }
        try
        {
            return await store.WriteAsync(ctx =>
            {
                var recorded = ctx.Execute(
                    "UPDATE drafts SET card_chat_id = $chat, card_message_id = NULL, card_shown_state = NULL, card_shown_since = NULL, " +
                    "card_error = CASE WHEN state IN ('pending', 'carded') THEN $awaiting ELSE $decided END, " +
                    "updated_at = $now WHERE id = $id AND (state = 'carded' OR $anyState) AND card_chat_id IS $oldChat AND card_message_id IS $oldMessage",
                    ("$chat", to), ("$awaiting", awaiting), ("$decided", decided), ("$now", ctx.NowMs), ("$id", draft.Id), ("$anyState", anyState), ("$oldChat", draft.CardChatId),
                    ("$oldMessage", draft.CardMessageId)) == 1;
                if (recorded)
                {
                    ctx.AppendEvent(draft.Id, UnconfirmedEvent, actor ?? Actor, json.ToJsonString());
                }
                return recorded;
            }).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is StoreUnavailableException or SqliteException)
        {
            LogUnconfirmedNotRecorded(ex, draft.Id);
            return false;
        }
    }

    /// <summary>
    /// Records that the card on record now shows <paramref name="shown"/>'s state. Nothing is written for another copy
    /// (only the card on record is followed after a restart) or when the record says so already. A store that cannot
    /// take the write costs no edit: the card is right, only the record lags, and the follow-ups' next look at the cards
    /// behind their drafts (every CardRetryMaxDelaySeconds, and at the next start) shows the same state once more (Telegram
    /// answers "not modified", which counts as done) and records it then.
    /// </summary>
    public async Task RecordShownAsync(Draft shown, long chatId, long messageId)
    {
        if (!RecordLags(shown, chatId, messageId))
        {
            return;
        }
        try
        {
            await store.WriteAsync(ctx => SetShown(ctx, shown, chatId, messageId)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is StoreUnavailableException or SqliteException)
        {
            LogShownNotRecorded(ex, shown.Id, messageId, shown.State.ToWire());
        }
    }

    /// <summary>
    /// The edit of the card on record was given up for good: Telegram refused it (deleted by hand, or no longer editable:
    /// <see cref="CardSender.EditRefusedEvent"/>) or the card itself failed (<see cref="CardSender.IsCardFault"/>, or it could not follow its group
    /// to a supergroup: <see cref="CardSender.EditFailedEvent"/>).
    /// Recorded in the ledger with <paramref name="reason"/>, and as the state the card was left at, so that no start
    /// and no look at the cards behind tries that message again until the draft changes again; the failure is still
    /// reported by the caller.
    /// </summary>
    public async Task RecordLeftAsync(Draft shown, long chatId, long messageId, string eventType, JsonObject reason)
    {
        if (!RecordLags(shown, chatId, messageId))
        {
            return;
        }
        var details = new JsonObject { ["chat_id"] = chatId, ["message_id"] = messageId, ["state"] = shown.State.ToWire(), ["shown"] = shown.CardShownState };
        foreach (var (name, value) in reason)
        {
            details[name] = value?.DeepClone();
        }
        var json = details.ToJsonString();
        try
        {
            await store.WriteAsync(ctx =>
            {
                var left = SetShown(ctx, shown, chatId, messageId);
                if (left)
                {
                    ctx.AppendEvent(shown.Id, eventType, Actor, json);
                }
                return left;
            }).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is StoreUnavailableException or SqliteException)
        {
            // Unrecorded, the card stays behind its draft: the follow-ups' next look (every CardRetryMaxDelaySeconds, and at
            // the next start) tries the message once more, and records the refusal then.
            LogLeftNotRecorded(ex, shown.Id, messageId, eventType);
        }
    }

    /// <summary>The card on record is the one at <paramref name="chatId"/>/<paramref name="messageId"/>, and its record does not say it shows <paramref name="shown"/> yet.</summary>
    private static bool RecordLags(Draft shown, long chatId, long messageId) =>
        shown.IsCardOnRecord(chatId, messageId) && !shown.CardShowsCurrentState;

    /// <summary>Records <paramref name="shown"/>'s state as what the card shows; compare-and-set on the card: one moved to a supergroup meanwhile keeps its own record.</summary>
    private static bool SetShown(WriteContext ctx, Draft shown, long chatId, long messageId) => ctx.Execute(
        "UPDATE drafts SET card_shown_state = $shown, card_shown_since = $since WHERE id = $id AND card_chat_id = $chat AND card_message_id = $message",
        ("$shown", shown.State.ToWire()), ("$since", DraftColumns.ToUnixMs(shown.StateSince)), ("$id", shown.Id), ("$chat", chatId), ("$message", messageId)) == 1;

    private static bool RecordMove(WriteContext ctx, Draft shown, long? oldChatId, long? oldMessageId, SentCard sent, string reason, string? actor, JsonObject? more)
    {
        // Only the card on record moves (compare-and-set: an edit of another copy, or one that lost a race, records nothing).
        // IS, not =: a draft with no card on record (carded by hand) gets one only while it still has none.
        var recorded = ctx.Execute(
            // card_error goes: a card sent unconfirmed (card_unconfirmed) said there why it had no message on record.
            "UPDATE drafts SET card_chat_id = $chat, card_message_id = $message, card_shown_state = $shown, card_shown_since = $since, card_error = NULL, updated_at = $now " +
            "WHERE id = $id AND card_chat_id IS $oldChat AND card_message_id IS $oldMessage",
            ("$chat", sent.ChatId), ("$message", sent.MessageId), ("$shown", shown.State.ToWire()), ("$since", DraftColumns.ToUnixMs(shown.StateSince)), ("$now", ctx.NowMs), ("$id", shown.Id),
            ("$oldChat", oldChatId), ("$oldMessage", oldMessageId)) == 1;
        if (recorded)
        {
            var details = new JsonObject
            {
                ["reason"] = reason,
                ["from_chat_id"] = oldChatId,
                ["from_message_id"] = oldMessageId,
                ["chat_id"] = sent.ChatId,
                ["message_id"] = sent.MessageId,
                ["document_message_id"] = sent.DocumentMessageId,
            };
            foreach (var (name, value) in more ?? [])
            {
                details[name] = value?.DeepClone();
            }
            ctx.AppendEvent(shown.Id, MovedEvent, actor ?? Actor, details.ToJsonString());
        }
        return recorded;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record that the card of {DraftId} was sent again unconfirmed; its old card stays on record")]
    private partial void LogUnconfirmedNotRecorded(Exception ex, string draftId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The edit of card message {MessageId} of {DraftId} was given up for good ({EventType}), but the store could not record that; " +
        "it is tried once more at the next look at the cards behind their drafts (every CardRetryMaxDelaySeconds, and at the next start)")]
    private partial void LogLeftNotRecorded(Exception ex, string draftId, long messageId, string eventType);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Card message {MessageId} of {DraftId} now shows {State} but the store could not record that; " +
        "it is shown once more at the next look at the cards behind their drafts (every CardRetryMaxDelaySeconds, and at the next start)")]
    private partial void LogShownNotRecorded(Exception ex, string draftId, long messageId, string state);
}
