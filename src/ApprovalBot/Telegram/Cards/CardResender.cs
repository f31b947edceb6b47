using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Api;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Telegram.Cards;

/// <summary>
/// Sends the card of a draft awaiting a decision again, when an approver asks (the Resend card button of an
/// <c>awaiting_decision</c> escalation, <c>/card &lt;id&gt;</c>): its card may have been deleted in the chat, or be out of
/// reach in a busy one, and nothing else would give the approver a button to tap. The new message becomes the card on
/// record (a <c>card_moved</c> event, reason <c>resend_requested</c>, with who asked), compare-and-set on the old card; a
/// draft decided while the card was on the way has it show the decision instead of buttons. The old card, if it still
/// exists, loses its buttons and says the card was sent again below; a tap made on it before that still decides (one
/// decision, bound to the text's hash) and is shown on both. Runs on the update poller, one update at a time, so two
/// requests never move the same card at once; another mover (the pass of a restarted built-in sandbox, a card following a
/// group to its supergroup) can still move it first, and then the copy sent is removed and the answer says so. Unlike a
/// command's reply (<see cref="Commands.ApproverReplies"/>), the card is sent on the poller, waiting for its send slot
/// (after a burst of cards, up to the group's minute, with the taps behind it): a card is state, recorded with its request
/// before the update is confirmed, so a stop re-handles the request instead of losing it, and one request at a time keeps
/// two from moving the same card; a queue off the poller would need to be durable to keep both. Approvers ask for it rarely.
/// </summary>
internal sealed partial class CardResender(
    DraftStore store, CardSender sender, CardRecords records, CardFollowUps followUps, ApproverActions actions, TimeProvider time, ILogger<CardResender> logger)
{
    public async Task<ResendOutcome> ResendAsync(Draft found, ResendRequest request, CancellationToken cancellationToken)
    {
        var draft = store.Get(found.Id) ?? found;
        if (SentBefore(draft.Id, request) is { } earlier)
        {
            return new ResendOutcome(ResendResult.AlreadySent, draft, earlier.MessageId);
        }
        if (!DraftStateMachine.AwaitsDecision(draft.State))
        {
            return new ResendOutcome(ResendResult.NotAwaiting, draft);
        }
        if (draft.State == DraftState.Pending)
        {
            return await PendingAsync(draft, request).ConfigureAwait(false);
        }
        SentCard sent;
        try
        {
            sent = await sender.SendAsync(draft, cancellationToken).ConfigureAwait(false);
        }
        catch (ApiRequestException ex) when (ex.OutcomeUnknown && !ex.IsDocumentSend)
        {
            // Most likely in the chat, its message id unknown: recorded so, as the outbox records a card of its own, with the
            // request (so the same update delivered again sends no other copy); not sent again unasked.
            var recorded = await records.RecordUnconfirmedAsync(draft, CardSender.ResendRequestedReason, ex, request.Details(), actor: request.Actor)
                .ConfigureAwait(false);
            LogSendOutcomeUnknown(draft.Id, request.From.Id, ex.Description, recorded);
            if (recorded)
            {
                // Now, or never: with no message on record, a later resend has no old card to take the buttons off, and the
                // original would stay a card to tap beside the copy (and the one a later resend records).
                await SupersedeAsync(draft, cancellationToken).ConfigureAwait(false);
            }
            return new ResendOutcome(ResendResult.OutcomeUnknown, store.Get(draft.Id) ?? draft, Error: ex.Description);
        }
        catch (Exception ex) when (ex is ApiRequestException || CardSender.IsCardFault(ex, cancellationToken))
        {
            LogSendFailed(ex, draft.Id, request.From.Id);
            return new ResendOutcome(ResendResult.Failed, draft, Error: ex switch
            {
                // A long draft's file goes first: an unreadable answer to it means the card itself was not sent. Short, for a button's answer.
                ApiRequestException { OutcomeUnknown: true } => "Telegram's answer to its text file could not be read (the file may be in the chat); the card itself was not sent",
                ApiRequestException api => api.Description,
                _ => ex.Message,
            });
        }
        var moved = await followUps.RecordMovedAsync(draft, draft.CardChatId, draft.CardMessageId, sent, CardSender.ResendRequestedReason, cancellationToken,
            request.Actor, request.Details()).ConfigureAwait(false);
        if (moved.Recorded is null)
        {
            return new ResendOutcome(ResendResult.SentNotRecorded, draft, sent.MessageId);
        }
        if (moved.Spare is { } spare)
        {
            // Another card became the card on record while this one was on its way (the old card was moved meanwhile).
            var now = store.Get(draft.Id) ?? draft;
            LogResendLost(draft.Id, sent.MessageId, now.CardMessageId, request.From.Id, spare);
            return new ResendOutcome(ResendResult.Lost, now, now.CardMessageId, Spare: spare);
        }
        LogResent(draft.Id, draft.CardMessageId, sent.MessageId, request.From.Id);
        await SupersedeAsync(draft, cancellationToken).ConfigureAwait(false);
        // Decided, expired or cancelled while the card was on its way: the answer says so, as the new card does.
        return new ResendOutcome(ResendResult.Sent, store.Get(draft.Id) ?? draft, sent.MessageId);
    }

    /// <summary>
    /// A pending draft has no card to send again: its first one is the outbox's. One the outbox gave up on is queued again
    /// (what the Retry of its card_undelivered escalation does); otherwise the outbox is still trying, and says why in the log.
    /// </summary>
    private async Task<ResendOutcome> PendingAsync(Draft draft, ResendRequest request)
    {
        if (draft is { CardError: { } error, CardNextAt: null })
        {
            var retried = await actions.RetryAsync(draft.Id, request.Actor, draft.StateSince).ConfigureAwait(false);
            if (retried.Applied)
            {
                return new ResendOutcome(ResendResult.Requeued, retried.Draft ?? draft, Error: error);
            }
            draft = retried.Draft ?? draft;
            if (!DraftStateMachine.AwaitsDecision(draft.State))
            {
                return new ResendOutcome(ResendResult.NotAwaiting, draft);
            }
        }
        return new ResendOutcome(ResendResult.NotSentYet, draft, Error: draft.CardError);
    }

    /// <summary>What this request already sent, if the same update was handled before: a card (its message id), or one sent unconfirmed (none).</summary>
    private readonly record struct EarlierSend(long? MessageId);

    /// <summary>The card this request already sent, if the same update was handled before.</summary>
    private EarlierSend? SentBefore(string draftId, ResendRequest request)
    {
        var keys = request.Keys();
        if (keys.Length == 0)
        {
            return null;
        }
        return store.Read(connection =>
        {
            using var cmd = connection.CreateCommand();
            cmd.CommandText = "SELECT json_extract(details, '$.message_id') FROM events WHERE draft_id = $draft AND type IN ($moved, $unconfirmed)" +
                string.Concat(Enumerable.Range(0, keys.Length).Select(i => $" AND json_extract(details, $p{i}) = $v{i}")) + " LIMIT 1";
            cmd.Parameters.AddWithValue("$draft", draftId);
            cmd.Parameters.AddWithValue("$moved", CardRecords.MovedEvent);
            cmd.Parameters.AddWithValue("$unconfirmed", CardRecords.UnconfirmedEvent);
            for (var i = 0; i < keys.Length; i++)
            {
                cmd.Parameters.AddWithValue($"$p{i}", keys[i].Path);
                cmd.Parameters.AddWithValue($"$v{i}", keys[i].Value);
            }
            using var reader = cmd.ExecuteReader();
            return reader.Read() ? new EarlierSend(reader.IsDBNull(0) ? null : reader.GetInt64(0)) : (EarlierSend?)null;
        });
    }

    /// <summary>
    /// Takes the buttons off <paramref name="old"/>'s card on record, if it had one. Best effort, once: a card deleted in the chat (the usual reason to ask) answers
    /// "message to edit not found", which is expected; if the edit fails otherwise the old copy keeps its buttons, and a tap
    /// on it still counts once, like a tap on a card that arrived twice. Never retried by the follow-ups: they show a draft's
    /// latest state, which for a draft awaiting a decision would put the buttons back.
    /// </summary>
    private async Task SupersedeAsync(Draft old, CancellationToken cancellationToken)
    {
        if (old is not { Id: var draftId, CardChatId: { } chatId, CardMessageId: { } messageId })
        {
            return;
        }
        try
        {
            await sender.ShowSupersededAsync(draftId, chatId, messageId, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        }
        catch (ApiRequestException ex) when (ex.IsMessageGone)
        {
            LogOldCardGone(draftId, messageId);
        }
        catch (Exception ex) when (ex is ApiRequestException or StoreUnavailableException || CardSender.IsCardFault(ex, cancellationToken))
        {
            LogOldCardKept(ex, draftId, messageId);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Card of {DraftId} sent again as message {MessageId} at the request of {UserId} (was message {OldMessageId})")]
    private partial void LogResent(string draftId, long? oldMessageId, long messageId, long userId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Card of {DraftId} sent again as message {MessageId} at the request of {UserId}, but meanwhile message " +
        "{CardMessageId} became its card; the copy sent: {Spare}")]
    private partial void LogResendLost(string draftId, long messageId, long? cardMessageId, long userId, SpareCopy spare);

    [LoggerMessage(Level = LogLevel.Warning, EventName = "ResendOutcomeUnknown",
        Message = "The card of {DraftId} sent again at the request of {UserId} is most likely in the chat, but Telegram's answer could not be read ({Description}); " +
        "not sent again unasked, recorded as sent unconfirmed, with no message on record: {Recorded} (the old card then loses its buttons). A tap on it decides once; /orphans lists it " +
        "(card_unconfirmed) with Resend card, as /card <id> does")]
    private partial void LogSendOutcomeUnknown(string draftId, long userId, string description, bool recorded);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not send the card of {DraftId} again at the request of {UserId}; nothing changed")]
    private partial void LogSendFailed(Exception ex, string draftId, long userId);

    [LoggerMessage(Level = LogLevel.Information, Message = "The older card of {DraftId} (message {MessageId}) is gone from the chat; its newer card is the one to tap")]
    private partial void LogOldCardGone(string draftId, long messageId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not take the buttons off the older card of {DraftId} (message {MessageId}); " +
        "a tap on it still counts once, and its newer card is the card on record")]
    private partial void LogOldCardKept(Exception ex, string draftId, long messageId);
}
