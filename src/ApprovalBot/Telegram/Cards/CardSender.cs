using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Api;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Telegram.Cards;

/// <summary>
/// Puts a card in the chat and edits it later. The only place that turns a <see cref="RenderedCard"/> into Bot API calls;
/// what the store says of the card (which message is on record, what it shows) is written by <see cref="CardRecords"/>.
/// </summary>
internal sealed partial class CardSender(TelegramBotClient client, TelegramChat chat, DraftStore store, CardRecords records, ILogger<CardSender> logger)
{
    /// <summary><see cref="CardRecords.MovedEvent"/>'s reason for a card sent again because the group it was in became a supergroup.</summary>
    public const string ChatMigratedReason = "chat_migrated";

    /// <summary><see cref="CardRecords.MovedEvent"/>'s reason for a card sent again because the built-in sandbox it was in is gone (<see cref="VanishedCards"/>).</summary>
    public const string SandboxRestartedReason = "sandbox_restarted";

    /// <summary>
    /// <see cref="CardRecords.MovedEvent"/>'s reason for a card sent again because it is in a chat that is no longer the approvers'
    /// (ChatId changed, or a real bot took over from the built-in sandbox) (<see cref="VanishedCards"/>).
    /// </summary>
    public const string ChatChangedReason = "chat_changed";

    /// <summary>
    /// <see cref="CardRecords.MovedEvent"/>'s reason for a card sent again because the card on record was posted by another bot than this
    /// run's (a new token, or a real bot after the built-in sandbox in the same chat id): its buttons reach that bot only
    /// (<see cref="RecordedBot"/>, <see cref="VanishedCards"/>).
    /// </summary>
    public const string BotChangedReason = "bot_changed";

    /// <summary><see cref="CardRecords.MovedEvent"/>'s reason for a card sent again because an approver asked for it (<see cref="CardResender"/>).</summary>
    public const string ResendRequestedReason = "resend_requested";

    public const string EditRefusedEvent = "card_edit_refused";
    public const string EditFailedEvent = "card_edit_failed";
    private static readonly LinkPreviewOptions NoPreview = new(IsDisabled: true);
    private const int EditLanes = 64;

    // One lane per card (striped): edits of the same card go one at a time, while a card waiting out a 429 does not
    // hold up the edits of other cards, nor the poller that edits them after a tap.
    private readonly SemaphoreSlim[] _edits = [.. Enumerable.Range(0, EditLanes).Select(_ => new SemaphoreSlim(1, 1))];

    // Per draft, the sends of a long draft's file into a supergroup answered unreadably since its card last moved there or was
    // given up on (ShowInSupergroupAsync), counted for the draft's state_since: another failure can end that change's tries,
    // and the draft's next change starts afresh, as the give-up promises. In memory: a restart allows as many again, as a
    // readmission of the draft would.
    private readonly ConcurrentDictionary<string, (DateTimeOffset Since, int Sends)> _unreadableFilesInMove = new(StringComparer.Ordinal);

    // Per draft, a card sent into a supergroup with an answer that could not be read, which the store then refused to record
    // as sent unconfirmed (ShowInSupergroupAsync): the old card is still on record, so every later edit of it meets the
    // migration again, and each would post another copy. While the old card is on record, they only try the record again.
    // In memory, as the outbox's cards in the chat the store did not record: after a restart the move sends one more copy.
    private readonly ConcurrentDictionary<string, UnrecordedMove> _unrecordedMoves = new(StringComparer.Ordinal);

    /// <summary>A card of the old card at <paramref name="FromChat"/>/<paramref name="FromMessage"/> most likely in <paramref name="ChatId"/>, unrecorded.</summary>
    private sealed record UnrecordedMove(long FromChat, long FromMessage, long ChatId, ApiRequestException Unreadable);

    /// <summary>
    /// A failure of one card itself (rendering it, or a bug) rather than of Telegram (<see cref="ApiRequestException"/>,
    /// which says whether it can pass), of the store (it comes back by itself, and recording anything needs it) or a stop.
    /// Trying such a card again fails the same way, so it is given up on that card alone and recorded, never left to
    /// stop the loop that met it.
    /// </summary>
    public static bool IsCardFault(Exception ex, CancellationToken stoppingToken) =>
        ex is not (ApiRequestException or StoreUnavailableException or SqliteException)
        && !(ex is OperationCanceledException && stoppingToken.IsCancellationRequested);

    /// <summary>
    /// Sends the card. A long text's file goes first, so by the time the buttons appear the approver can
    /// already read everything they would approve.
    /// </summary>
    public Task<SentCard> SendAsync(Draft draft, CancellationToken cancellationToken)
    {
        var card = CardRenderer.Render(draft);
        return chat.SendAsync(chatId => SendToAsync(card, chatId, cancellationToken), cancellationToken);
    }

    /// <summary>
    /// Shows the draft's latest stored state on a card already in the chat; an identical edit counts as done.
    /// Edits of one card go one at a time and each renders the state read just before it is sent: the decision handler,
    /// the follow-ups and the outbox all edit the same card, and an edit rendered from an older snapshot must
    /// never land after, and overwrite, a newer outcome. So whichever edit lands last shows the last change.
    /// Once Telegram has taken the edit of the card on record, the state it shows is recorded (card_shown_state), in
    /// the same lane, so an older edit's record cannot overwrite a newer one's: a card left behind by a stop is found
    /// from that at the next start. With <paramref name="unlessShown"/> the card on record is left alone if its record
    /// says it shows the draft's state already (<see cref="ShownAlready"/>).
    /// </summary>
    /// <returns>False when there was nothing to edit (the draft is gone, or the card shows its state already).</returns>
    public async Task<bool> ShowLatestAsync(string draftId, long chatId, long messageId, CancellationToken cancellationToken, bool unlessShown = false)
    {
        var lane = _edits[(int)((uint)HashCode.Combine(chatId, messageId) % EditLanes)];
        (long Chat, long Message)? movedTo = null;
        await lane.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (store.Get(draftId) is not { } draft || (unlessShown && ShownAlready(draft, chatId, messageId)))
            {
                return false;
            }
            try
            {
                await EditAsync(draft, chatId, messageId, cancellationToken).ConfigureAwait(false);
                await records.RecordShownAsync(draft, chatId, messageId).ConfigureAwait(false);
            }
            catch (ApiRequestException ex) when (ex.MigrateToChatId is { } newChatId && newChatId != chatId)
            {
                await chat.FollowMigrationAsync(chatId, newChatId).ConfigureAwait(false);
                if (!chat.IsApproversChat(newChatId))
                {
                    // A former chat (ChatId moved on since) became a supergroup: that is not the approvers' chat either, so the
                    // card, text and all, is not posted there; the card is left as it is, like any other in a former chat.
                    await LeaveRefusedAsync(draft, chatId, messageId, ex, formerChat: true).ConfigureAwait(false);
                    throw;
                }
                movedTo = await ShowInSupergroupAsync(draftId, chatId, messageId, newChatId, cancellationToken).ConfigureAwait(false);
            }
            catch (ApiRequestException ex) when (ex.IsEditRefused || (ex.IsChatRefused && !chat.IsApproversChat(chatId)))
            {
                await LeaveRefusedAsync(draft, chatId, messageId, ex, formerChat: ex.IsChatRefused).ConfigureAwait(false);
                throw;
            }
            catch (Exception ex) when (IsCardFault(ex, cancellationToken))
            {
                // Every later try (each start, each look at the cards behind) would fail the same way: for the follow-ups
                // at start that was an exception out of the loop, the host stopping, and the same again at every restart.
                await records.RecordLeftAsync(draft, chatId, messageId, EditFailedEvent, new JsonObject { ["exception"] = ex.GetType().FullName, ["description"] = ex.Message })
                    .ConfigureAwait(false);
                throw;
            }
        }
        finally
        {
            lane.Release();
        }
        if (movedTo is { } card)
        {
            // In the moved card's own lane (after letting go of this one, which may be the same): an edit of it made
            // from here, beside that lane, could land after a newer edit and leave the card, and its record, behind.
            return await ShowLatestAsync(draftId, card.Chat, card.Message, cancellationToken).ConfigureAwait(false);
        }
        return true;
    }

    /// <summary>
    /// The card on record, recorded (read in its lane) as showing the draft's state already, or as given up for it (refused,
    /// failed). A follow-up that found it behind before it waited for the lane (the look at the cards behind while the
    /// decision handler's edit was under way) would only send the same edit again, a call Telegram answers "not modified"
    /// and counts against the chat's 20 edits a minute, or repeat the refusal. Only for follow-ups: the decision handler
    /// edits a card whose state is shown all the same, as what it shows can change without the state (Approve taken off
    /// a card whose text is missing).
    /// </summary>
    private static bool ShownAlready(Draft draft, long chatId, long messageId) =>
        draft.IsCardOnRecord(chatId, messageId) && draft.CardShowsCurrentState;

    /// <summary>An edit refused for good (or a card in a former chat): logged, recorded as left as it is, and marked so.</summary>
    private async Task LeaveRefusedAsync(Draft draft, long chatId, long messageId, ApiRequestException ex, bool formerChat)
    {
        var draftId = draft.Id;
        var reason = new JsonObject { ["error_code"] = ex.ErrorCode, ["description"] = ex.Description };
        if (ex.MigrateToChatId is { } migratedTo)
        {
            reason["migrate_to_chat_id"] = migratedTo;
        }
        if (formerChat)
        {
            // A card left in a chat that is no longer the approvers' (ChatId changed, or a real bot took over from the
            // built-in sandbox, whose chat Telegram does not know): unlike the approvers' chat, nobody lets the bot back
            // in there for this service, and a readmission wakes the cards behind of the approvers' chat only. Tried
            // again, it was refused at every look at the cards behind (every CardRetryMaxDelaySeconds), for ever.
            LogEditRefusedFormerChat(draftId, messageId, chatId, ex.Description);
            reason["former_chat"] = true;
        }
        else if (ex.IsMessageGone)
        {
            // Gone (deleted by hand, too old to edit) is the chat's doing; any other 400 is an edit we rendered wrong
            // (too long, HTML Telegram cannot parse), which the same rendering would repeat at every look at the cards behind.
            LogEditRefusedGone(draftId, messageId, ex.Description);
        }
        else
        {
            LogEditRefused(draftId, messageId, draft.State.ToWire(), ex.Description);
        }
        await records.RecordLeftAsync(draft, chatId, messageId, EditRefusedEvent, reason).ConfigureAwait(false);
        MarkRefusalRecorded(ex);
    }

    /// <summary>
    /// The group the card is in became a supergroup. Its messages stay behind in the old group, which takes no more
    /// edits (every call to it answers migrate_to_chat_id), and the supergroup holds no copy to edit. So the draft's
    /// card is sent again, as the draft stands now, into the supergroup and recorded as its card there: later edits
    /// go to it, and a card still awaiting a decision can be tapped again. Another copy (a card sent twice) stays behind.
    /// A send whose answer cannot be read is handled as the outbox handles its own: the card most likely went out, so it is
    /// recorded as sent unconfirmed (<see cref="CardRecords.UnconfirmedEvent"/>, reason <see cref="ChatMigratedReason"/>) and not sent
    /// again; rethrown, every retry of the edit, and every later look at the cards behind, posted another copy. Should the
    /// store refuse that record, the old card stays on record and its later edits only try the record again
    /// (<see cref="_unrecordedMoves"/>). One to a long
    /// draft's file (sent first) says the card was not sent: it fails the edit, whose retry sends file and card once more, and
    /// after <see cref="CardOutbox.MaxUnreadableSends"/> such answers to one change of the draft the move is given up until it changes again
    /// (<see cref="EditFailedEvent"/>, the old card left on record).
    /// </summary>
    /// <returns>The card in the supergroup when an edit that got here first had moved it already: the caller shows the
    /// latest state on it, in its own lane.</returns>
    private async Task<(long Chat, long Message)?> ShowInSupergroupAsync(string draftId, long oldChatId, long oldMessageId, long newChatId, CancellationToken cancellationToken)
    {
        if (store.Get(draftId) is not { } draft)
        {
            return null;
        }
        if (UnrecordedMoveOf(draft) is { } unrecorded)
        {
            await RecordUnrecordedMoveAsync(draft, unrecorded).ConfigureAwait(false);
            return null;
        }
        if (draft.CardChatId is not { } cardChat || draft.CardMessageId is not { } cardMessage)
        {
            return null;
        }
        if ((cardChat, cardMessage) != (oldChatId, oldMessageId))
        {
            return cardChat == newChatId ? (cardChat, cardMessage) : null;
        }
        SentCard sent;
        try
        {
            sent = await SendToAsync(CardRenderer.Render(draft), newChatId, cancellationToken).ConfigureAwait(false);
        }
        catch (ApiRequestException ex) when (ex.OutcomeUnknown && !ex.IsDocumentSend)
        {
            _unreadableFilesInMove.TryRemove(draftId, out _);
            var recorded = await records.RecordUnconfirmedAsync(draft, ChatMigratedReason, ex, chatId: newChatId, anyState: true).ConfigureAwait(false);
            if (!recorded)
            {
                // Unrecorded because the card on record changed meanwhile, the mark goes at the next look (UnrecordedMoveOf).
                _unrecordedMoves[draftId] = new UnrecordedMove(oldChatId, oldMessageId, newChatId, ex);
            }
            LogMoveUnconfirmed(draftId, oldChatId, oldMessageId, newChatId, ex.Description, recorded);
            return null;
        }
        catch (ApiRequestException ex) when (ex.OutcomeUnknown)
        {
            var since = draft.StateSince;
            if (_unreadableFilesInMove.AddOrUpdate(draftId, (since, 1), (_, n) => (since, n.Since == since ? n.Sends + 1 : 1)).Sends < CardOutbox.MaxUnreadableSends)
            {
                // The edit's retry (the follow-ups' backoff) sends file and card once more, as the outbox does.
                throw;
            }
            _unreadableFilesInMove.TryRemove(draftId, out _);
            LogMoveFileUnreadable(draftId, oldChatId, oldMessageId, newChatId, CardOutbox.MaxUnreadableSends, ex.Description);
            await records.RecordLeftAsync(draft, oldChatId, oldMessageId, EditFailedEvent, new JsonObject
            {
                ["migrate_to_chat_id"] = newChatId, ["method"] = ex.Method, ["description"] = ex.Description, ["outcome_unknown"] = true,
                ["unreadable_file_sends"] = CardOutbox.MaxUnreadableSends,
            }).ConfigureAwait(false);
            MarkRefusalRecorded(ex);
            throw;
        }
        _unreadableFilesInMove.TryRemove(draftId, out _);
        var moved = await records.RecordMovedAsync(draft, oldChatId, oldMessageId, sent, ChatMigratedReason).ConfigureAwait(false);
        LogCardMoved(draftId, oldChatId, oldMessageId, sent.ChatId, sent.MessageId, moved);
        return null;
    }

    /// <summary>
    /// The card of <paramref name="draft"/> sent into a supergroup unconfirmed that the store did not record, while its old card
    /// is still the card on record; a mark of another card (the card on record changed since) goes.
    /// </summary>
    private UnrecordedMove? UnrecordedMoveOf(Draft draft)
    {
        if (!_unrecordedMoves.TryGetValue(draft.Id, out var move))
        {
            return null;
        }
        if ((draft.CardChatId, draft.CardMessageId) == (move.FromChat, move.FromMessage))
        {
            return move;
        }
        _unrecordedMoves.TryRemove(new KeyValuePair<string, UnrecordedMove>(draft.Id, move));
        return null;
    }

    /// <summary>Tries the record of a card sent into a supergroup unconfirmed again, instead of sending another copy.</summary>
    private async Task RecordUnrecordedMoveAsync(Draft draft, UnrecordedMove move)
    {
        if (await records.RecordUnconfirmedAsync(draft, ChatMigratedReason, move.Unreadable, chatId: move.ChatId, anyState: true).ConfigureAwait(false))
        {
            _unrecordedMoves.TryRemove(new KeyValuePair<string, UnrecordedMove>(draft.Id, move));
            LogMoveUnconfirmedRecordedLater(draft.Id, move.FromMessage, move.FromChat, move.ChatId);
        }
    }

    /// <summary>
    /// Takes the buttons off a card the draft has a newer copy of (<see cref="CardResender"/>), so the chat holds one card to
    /// tap: while the draft awaits a decision the message says where to decide (<see cref="CardRenderer.RenderSuperseded"/>),
    /// once decided it shows the decision like any card. In the message's own lane, read just before the edit, like
    /// <see cref="ShowLatestAsync"/>: a tap on this very copy that decided meanwhile is shown, never overwritten. Nothing is
    /// recorded (the card on record is the newer copy); a message deleted meanwhile is the caller's to report.
    /// </summary>
    public async Task ShowSupersededAsync(string draftId, long chatId, long messageId, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var lane = _edits[(int)((uint)HashCode.Combine(chatId, messageId) % EditLanes)];
        await lane.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (store.Get(draftId) is not { } draft)
            {
                return;
            }
            var card = DraftStateMachine.AwaitsDecision(draft.State) ? CardRenderer.RenderSuperseded(draft, at) : CardRenderer.Render(draft);
            await EditAsync(card, chatId, messageId, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lane.Release();
        }
    }

    /// <summary>
    /// Removes <paramref name="spare"/>, a card of <paramref name="draftId"/> sent again that did not become its card on
    /// record (another card did meanwhile): left as it is, it would be a second card to tap, unrecorded, whose outcome
    /// nothing would show. It is deleted (with its file, for a long draft); should Telegram not delete it, its buttons are
    /// taken off; should that fail too, it stays, and a tap on it still decides once, bound to the text's hash, like a
    /// tap on any copy. Each way is logged here.
    /// </summary>
    public async Task<SpareCopy> RemoveSpareAsync(string draftId, SentCard spare, CancellationToken cancellationToken)
    {
        try
        {
            await client.DeleteMessage(spare.ChatId, spare.MessageId, cancellationToken).ConfigureAwait(false);
        }
        catch (ApiRequestException deleteFailed)
        {
            try
            {
                await client.EditMessageReplyMarkup(new EditMessageReplyMarkupRequest { ChatId = spare.ChatId, MessageId = spare.MessageId }, cancellationToken)
                    .ConfigureAwait(false);
                LogSpareButtonsOff(draftId, spare.MessageId, deleteFailed.Description);
                return SpareCopy.ButtonsTakenOff;
            }
            catch (ApiRequestException ex)
            {
                LogSpareKept(ex, draftId, spare.MessageId, deleteFailed.Description);
                return SpareCopy.Kept;
            }
        }
        if (spare.DocumentMessageId is { } file)
        {
            try
            {
                await client.DeleteMessage(spare.ChatId, file, cancellationToken).ConfigureAwait(false);
            }
            catch (ApiRequestException ex)
            {
                // Only the text file is left, which offers nothing to tap.
                LogSpareFileKept(draftId, file, ex.Description);
            }
        }
        LogSpareDeleted(draftId, spare.MessageId);
        return SpareCopy.Deleted;
    }

    /// <summary>
    /// Whether <paramref name="failure"/> is an edit refusal <see cref="ShowLatestAsync"/> took for good (the message is gone
    /// or the edit itself is refused, or the card is in a chat that is no longer the approvers' and Telegram refuses the bot
    /// there), or a card following its group to a supergroup given up after unreadable answers to its file: it logged it,
    /// naming the card, and recorded it (<see cref="EditRefusedEvent"/>, <see cref="EditFailedEvent"/>; when the card is the one
    /// on record) before it rethrew it, so whoever catches it says nothing more and does not try that edit again. A send that
    /// is refused (a card following its group to a supergroup) is not an edit, and nothing else has said it.
    /// </summary>
    public static bool IsRefusalRecorded(Exception failure) => failure.Data.Contains(RefusalRecordedKey);

    private const string RefusalRecordedKey = "ApprovalBot.CardEditRefusalRecorded";

    private static void MarkRefusalRecorded(ApiRequestException refusal) => refusal.Data[RefusalRecordedKey] = true;

    private async Task<SentCard> SendToAsync(RenderedCard card, long chatId, CancellationToken cancellationToken)
    {
        long? documentId = null;
        if (card.Attachment is { } file)
        {
            var document = await client.SendDocument(new SendDocumentRequest
            {
                ChatId = chatId,
                FileName = file.FileName,
                Content = file.Content,
                Caption = file.Caption,
            }, cancellationToken).ConfigureAwait(false);
            documentId = document.MessageId;
        }
        Message message;
        try
        {
            message = await client.SendMessage(new SendMessageRequest
            {
                ChatId = chatId,
                Text = card.Html,
                ParseMode = ParseMode.Html,
                ReplyMarkup = card.Buttons,
                LinkPreviewOptions = NoPreview,
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (ApiRequestException ex) when (documentId is { } sentFile && ex.ErrorCode is >= 400 and < 500)
        {
            // Telegram refused the card, so it is not in the chat; its file is, and every later attempt sends another one (one
            // a sweep while a group lets the bot send files but not text). A 5xx or a lost answer may hide a card that did go
            // out: its file stays, a card must never point at a file that is gone.
            await RemoveFileOfRefusedCardAsync(chatId, sentFile, ex, cancellationToken).ConfigureAwait(false);
            throw;
        }
        return new SentCard(message.Chat.Id, message.MessageId, documentId);
    }

    private async Task RemoveFileOfRefusedCardAsync(long chatId, long fileMessageId, ApiRequestException refusal, CancellationToken cancellationToken)
    {
        try
        {
            await client.DeleteMessage(chatId, fileMessageId, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ApiRequestException or OperationCanceledException)
        {
            // The refusal is what the caller records; a file left behind is only one copy more.
            LogRefusedCardFileKept(fileMessageId, refusal.Description, ex.Message);
        }
    }

    private Task EditAsync(Draft draft, long chatId, long messageId, CancellationToken cancellationToken) =>
        EditAsync(CardRenderer.Render(draft), chatId, messageId, cancellationToken);

    private Task EditAsync(RenderedCard card, long chatId, long messageId, CancellationToken cancellationToken) =>
        client.EditMessageText(new EditMessageTextRequest
        {
            ChatId = chatId,
            MessageId = messageId,
            Text = card.Html,
            ParseMode = ParseMode.Html,
            ReplyMarkup = card.Buttons,
            LinkPreviewOptions = NoPreview,
        }, cancellationToken);

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted card message {MessageId} of {DraftId}: sent again, another card became its card meanwhile")]
    private partial void LogSpareDeleted(string draftId, long messageId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not delete card message {MessageId} of {DraftId}, sent again while another card became its card ({Description}); " +
        "took its buttons off instead")]
    private partial void LogSpareButtonsOff(string draftId, long messageId, string description);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Card message {MessageId} of {DraftId}, sent again while another card became its card, could neither be deleted " +
        "({Description}) nor have its buttons taken off; a tap on it still decides once")]
    private partial void LogSpareKept(Exception ex, string draftId, long messageId, string description);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Telegram refused a card ({Refusal}) whose file went out as message {MessageId}; the file could not be deleted ({Description})")]
    private partial void LogRefusedCardFileKept(long messageId, string refusal, string description);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not delete file message {MessageId} of {DraftId}, sent with a card that was deleted again ({Description})")]
    private partial void LogSpareFileKept(string draftId, long messageId, string description);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Card message {MessageId} of {DraftId} can no longer be edited ({Description}); " +
        "recorded as card_edit_refused, not tried again until the draft changes")]
    private partial void LogEditRefusedGone(string draftId, long messageId, string description);

    [LoggerMessage(Level = LogLevel.Warning, EventName = "CardEditRefusedFormerChat",
        Message = "Card message {MessageId} of {DraftId} is in chat {ChatId}, which is no longer the approvers' chat (ChatId changed, or a real bot took over " +
        "from the built-in sandbox), and Telegram refused its edit ({Description}); recorded as card_edit_refused, not tried again until the draft changes. " +
        "/status shows the draft's state")]
    private partial void LogEditRefusedFormerChat(string draftId, long messageId, long chatId, string description);

    [LoggerMessage(Level = LogLevel.Error, EventName = "CardEditRefused",
        Message = "Telegram refused the edit of card message {MessageId} of {DraftId} to show {State}: {Description}; recorded as card_edit_refused, " +
        "not tried again until the draft changes. The card keeps showing an older state")]
    private partial void LogEditRefused(string draftId, long messageId, string state, string description);

    [LoggerMessage(Level = LogLevel.Warning, EventName = "CardMoveOutcomeUnknown",
        Message = "Card of {DraftId} (message {OldMessageId} in chat {OldChatId}) is in a group upgraded to a supergroup; sent again into chat {ChatId}, it is " +
        "most likely there, but Telegram's answer could not be read ({Description}): not sent again (another try would post another copy), recorded as sent " +
        "unconfirmed, with no message on record: {Recorded} (if not, later edits of the card only try the record again, until the store takes it; a restart " +
        "before then sends one more copy). Its later outcomes are not shown on a card")]
    private partial void LogMoveUnconfirmed(string draftId, long oldChatId, long oldMessageId, long chatId, string description, bool recorded);

    [LoggerMessage(Level = LogLevel.Information, Message = "Card of {DraftId} (message {OldMessageId} in chat {OldChatId}), sent into chat {ChatId} with an answer that " +
        "could not be read, is now recorded as sent unconfirmed (the store could not take that before; no other copy was sent meanwhile)")]
    private partial void LogMoveUnconfirmedRecordedLater(string draftId, long oldMessageId, long oldChatId, long chatId);

    [LoggerMessage(Level = LogLevel.Error, EventName = "CardMoveFileUnreadable",
        Message = "Card of {DraftId} (message {OldMessageId} in chat {OldChatId}) is in a group upgraded to a supergroup; its text file, sent first into chat " +
        "{ChatId}, got {Sends} answers that could not be read ({Description}), each most likely posting a copy of it, and the card itself was not sent. " +
        "Not sent again until the draft changes (card_edit_failed); /status shows the draft's state")]
    private partial void LogMoveFileUnreadable(string draftId, long oldChatId, long oldMessageId, long chatId, int sends, string description);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Card of {DraftId} (message {OldMessageId} in chat {OldChatId}) is in a group upgraded to a supergroup and can no longer be edited; " +
        "sent it again as message {MessageId} in chat {ChatId} (recorded as the draft's card: {Recorded})")]
    private partial void LogCardMoved(string draftId, long oldChatId, long oldMessageId, long chatId, long messageId, bool recorded);
}

internal sealed record SentCard(long ChatId, long MessageId, long? DocumentMessageId);

/// <summary>What became of a card sent again that another card beat to being the card on record (<see cref="CardSender.RemoveSpareAsync"/>).</summary>
internal enum SpareCopy
{
    Deleted,
    ButtonsTakenOff,
    Kept,
}
