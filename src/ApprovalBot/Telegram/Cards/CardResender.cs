using System.Globalization;
using System.Text.Json.Nodes;
using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Api;
using ApprovalBot.Telegram.Updates;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Telegram.Cards;

/// <summary>Who asked for a card again, and by which update: a button press (its query id) or a command (its message).</summary>
internal sealed record ResendRequest(User From, string? QueryId = null, Message? Command = null)
{
    public string Actor => "telegram:" + From.Id.ToString(CultureInfo.InvariantCulture);

    /// <summary>The ledger details naming the request, so the same update delivered again is recognised (<see cref="Keys"/>).</summary>
    public JsonObject Details()
    {
        var details = new JsonObject { ["requested_by"] = From.Id }.PutUser(From);
        if (QueryId is not null)
        {
            details["via"] = "button";
            details["query_id"] = QueryId;
        }
        else if (Command is not null)
        {
            details["via"] = "command";
            details["request_chat_id"] = Command.Chat.Id;
            details["request_message_id"] = Command.MessageId;
        }
        return details;
    }

    public (string Path, object Value)[] Keys() => QueryId is not null
        ? [("$.query_id", QueryId)]
        : Command is not null ? [("$.request_chat_id", Command.Chat.Id), ("$.request_message_id", Command.MessageId)] : [];
}

internal enum ResendResult
{
    /// <summary>The card went out and is the card on record.</summary>
    Sent,

    /// <summary>The card went out but the store could not record it: a tap on it decides, later outcomes are not shown on it.</summary>
    SentNotRecorded,

    /// <summary>This very request (the same update delivered again) sent it already; nothing was sent now.</summary>
    AlreadySent,

    /// <summary>The draft was decided, or otherwise left the wait for a decision; nothing was sent.</summary>
    NotAwaiting,

    /// <summary>The draft is pending: its first card is still the outbox's to send; nothing was sent.</summary>
    NotSentYet,

    /// <summary>The draft is pending and the outbox had given its card up: it is queued again.</summary>
    Requeued,

    /// <summary>Telegram refused or failed the send (after the client's own resends); nothing changed.</summary>
    Failed,
}

/// <param name="MessageId">The new card's message id (sent, or sent already by the same request).</param>
/// <param name="Error">Why the send failed, or the card error of a card not sent yet.</param>
internal sealed record ResendOutcome(ResendResult Result, Draft Draft, long? MessageId = null, string? Error = null);

/// <summary>
/// Sends the card of a draft awaiting a decision again, when an approver asks (the Resend card button of an
/// <c>awaiting_decision</c> escalation, <c>/card &lt;id&gt;</c>): its card may have been deleted in the chat, or be out of
/// reach in a busy one, and nothing else would give the approver a button to tap. The new message becomes the card on
/// record (a <c>card_moved</c> event, reason <c>resend_requested</c>, with who asked), compare-and-set on the old card; a
/// draft decided while the card was on the way has it show the decision instead of buttons. The old card, if it still
/// exists, loses its buttons and says the card was sent again below; a tap made on it before that still decides (one
/// decision, bound to the text's hash) and is shown on both. Runs on the update poller, one update at a time, so two
/// requests never move the same card at once.
/// </summary>
internal sealed partial class CardResender(
    DraftStore store, CardSender sender, CardFollowUps followUps, ApproverActions actions, TimeProvider time, ILogger<CardResender> logger)
{
    public async Task<ResendOutcome> ResendAsync(Draft found, ResendRequest request, CancellationToken cancellationToken)
    {
        var draft = store.Get(found.Id) ?? found;
        if (SentBefore(draft.Id, request) is { } earlier)
        {
            return new ResendOutcome(ResendResult.AlreadySent, draft, earlier);
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
        catch (Exception ex) when (ex is ApiRequestException || CardSender.IsCardFault(ex, cancellationToken))
        {
            LogSendFailed(ex, draft.Id, request.From.Id);
            return new ResendOutcome(ResendResult.Failed, draft, Error: ex is ApiRequestException api ? api.Description : ex.Message);
        }
        if (await followUps.RecordMovedAsync(draft, draft.CardChatId, draft.CardMessageId, sent, CardSender.ResendRequestedReason, cancellationToken,
                request.Actor, request.Details()).ConfigureAwait(false) is not { } moved)
        {
            return new ResendOutcome(ResendResult.SentNotRecorded, draft, sent.MessageId);
        }
        LogResent(draft.Id, draft.CardMessageId, sent.MessageId, request.From.Id, moved);
        if (moved && draft is { CardChatId: { } oldChat, CardMessageId: { } oldMessage })
        {
            await SupersedeAsync(draft.Id, oldChat, oldMessage, cancellationToken).ConfigureAwait(false);
        }
        // Decided, expired or cancelled while the card was on its way: the answer says so, as the new card does.
        return new ResendOutcome(ResendResult.Sent, store.Get(draft.Id) ?? draft, sent.MessageId);
    }

    /// <summary>The answer to the approver, plain text; <paramref name="where"/> is where the new card is from where they asked ("below", "above").</summary>
    public static string Answer(ResendOutcome outcome, string where)
    {
        var d = outcome.Draft;
        return outcome.Result switch
        {
            ResendResult.Sent when DraftStateMachine.AwaitsDecision(d.State) => $"🔁 Sent the card of {d.Id} again {where}: decide there.",
            ResendResult.Sent => $"🔁 Sent the card of {d.Id} again {where}, but meanwhile it no longer awaits a decision. {Where(d)}",
            ResendResult.SentNotRecorded => $"🔁 Sent the card of {d.Id} again {where}, but the store could not record it: a tap on it decides, later outcomes are not shown on it.",
            ResendResult.AlreadySent => $"🔁 The card of {d.Id} was sent again already for this request (message {outcome.MessageId?.ToString(CultureInfo.InvariantCulture)}).",
            ResendResult.NotAwaiting => $"Nothing sent: {d.Id} no longer awaits a decision. {Where(d)}",
            ResendResult.NotSentYet => $"Nothing sent: the card of {d.Id} has not reached the chat yet; the card outbox keeps trying" +
                (outcome.Error is { } error ? $" (last attempt: {error})." : "."),
            ResendResult.Requeued => $"🔁 The card of {d.Id} had been given up ({outcome.Error}); it is queued again.",
            _ => $"⚠️ Could not send the card of {d.Id} again: {outcome.Error}. Nothing changed; try again later.",
        };
    }

    private static string Where(Draft d) => d switch
    {
        { Decision: not null } => $"It was {CardRenderer.DecidedBy(d)} and is {d.State.ToWire()} now.",
        { State: DraftState.Expired } => $"It expired at {CardRenderer.FormatTime(d.StateSince)} without a decision.",
        _ => $"It is {d.State.ToWire()} since {CardRenderer.FormatTime(d.StateSince)}.",
    };

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

    /// <summary>The message id this request already sent the card as, if the same update was handled before.</summary>
    private long? SentBefore(string draftId, ResendRequest request)
    {
        var keys = request.Keys();
        if (keys.Length == 0)
        {
            return null;
        }
        return store.Read(connection =>
        {
            using var cmd = connection.CreateCommand();
            cmd.CommandText = "SELECT json_extract(details, '$.message_id') FROM events WHERE draft_id = $draft AND type = $type" +
                string.Concat(Enumerable.Range(0, keys.Length).Select(i => $" AND json_extract(details, $p{i}) = $v{i}")) + " LIMIT 1";
            cmd.Parameters.AddWithValue("$draft", draftId);
            cmd.Parameters.AddWithValue("$type", CardSender.MovedEvent);
            for (var i = 0; i < keys.Length; i++)
            {
                cmd.Parameters.AddWithValue($"$p{i}", keys[i].Path);
                cmd.Parameters.AddWithValue($"$v{i}", keys[i].Value);
            }
            return cmd.ExecuteScalar() is long id ? id : (long?)null;
        });
    }

    /// <summary>
    /// Takes the buttons off the old card. Best effort, once: a card deleted in the chat (the usual reason to ask) answers
    /// "message to edit not found", which is expected; if the edit fails otherwise the old copy keeps its buttons, and a tap
    /// on it still counts once, like a tap on a card that arrived twice. Never retried by the follow-ups: they show a draft's
    /// latest state, which for a draft awaiting a decision would put the buttons back.
    /// </summary>
    private async Task SupersedeAsync(string draftId, long chatId, long messageId, CancellationToken cancellationToken)
    {
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Card of {DraftId} sent again as message {MessageId} at the request of {UserId} (was message {OldMessageId}); " +
        "recorded as its card: {Recorded}")]
    private partial void LogResent(string draftId, long? oldMessageId, long messageId, long userId, bool recorded);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not send the card of {DraftId} again at the request of {UserId}; nothing changed")]
    private partial void LogSendFailed(Exception ex, string draftId, long userId);

    [LoggerMessage(Level = LogLevel.Information, Message = "The older card of {DraftId} (message {MessageId}) is gone from the chat; its newer card is the one to tap")]
    private partial void LogOldCardGone(string draftId, long messageId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not take the buttons off the older card of {DraftId} (message {MessageId}); " +
        "a tap on it still counts once, and its newer card is the card on record")]
    private partial void LogOldCardKept(Exception ex, string draftId, long messageId);
}
