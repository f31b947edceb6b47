using System.Text.Json.Nodes;
using System.Threading.Channels;
using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Api;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Telegram.Cards;

/// <summary>
/// Cards of drafts awaiting a decision that the approvers cannot reach in this run, and nothing else would ever give the
/// approver a button to tap for. Once at start, each such draft (carded, oldest first) gets its card sent into the
/// approvers' chat again and recorded as its card like a card moved to a supergroup (<c>card_moved</c>), when:
/// <list type="bullet">
/// <item>its card is in a chat that is not the approvers' (<c>ChatId</c> changed, or a real bot took over from the built-in
/// sandbox, whose chat it was): reason <c>chat_changed</c>. A chat the approvers' chat was migrated from still counts as
/// theirs: those cards are followed to the supergroup when they change (<c>chat_migrated</c>);</item>
/// <item>its card was posted by another bot than this run's (<see cref="RecordedBot"/>: a new token for the same chat, or a
/// token added where the built-in sandbox used the same <c>ChatId</c>), whose buttons reach that bot only: reason
/// <c>bot_changed</c>;</item>
/// <item>with the built-in sandbox, its card is below the fresh sandbox's first message id (see
/// <see cref="TelegramChat.FreshSandboxFirstMessageId"/>): its chats live in memory, so it went with the earlier run's
/// sandbox: reason <c>sandbox_restarted</c>.</item>
/// </list>
/// A send whose answer cannot be read (<see cref="ApiRequestException.OutcomeUnknown"/>) most likely put the card in the
/// chat: it is not sent again (each try would post another copy) but recorded as unconfirmed
/// (<see cref="CardSender.UnconfirmedEvent"/>), as the outbox does; a tap on that copy decides, and the reconciler offers
/// Resend card. Drafts decided before get nothing: their outcome is in the store (<c>/status</c>), and an edit of their old card meets
/// no message of a new sandbox (its ids start above every card on record), which is recorded as <c>card_edit_refused</c>
/// like a card deleted by hand, or goes to the former chat, where a refusal of the bot ("chat not found" for the sandbox's
/// chat, 403 for a group the bot left) is recorded the same way (<see cref="CardSender.ShowLatestAsync"/>). A real bot
/// whose chat and bot did not change sends nothing again: a Telegram chat keeps its messages.
/// <para>
/// The approvers' chat refusing the bot (<see cref="ApiRequestException.IsChatRefused"/>: a new bot not yet added to the
/// group, the new chat blocking it) would refuse every card the same way: the pass stops sending at the first refusal,
/// logged once at Error, and those drafts wait on the chat, in memory. When Telegram says the bot may post there again
/// (<see cref="ChatReadmission"/>), the same pass runs again for them only (each looked at afresh: one decided or given a
/// card meanwhile needs none), after the start's pass and never beside it; a burst of readmissions is one pass, and a
/// refusal again waits for the next. A card lost for another reason is left for the next start, and so is a switch of bots
/// while any such card is left (<see cref="RecordedBot.SwitchDoneAsync"/>: done by whichever pass sends the last card).
/// </para>
/// </summary>
internal sealed partial class VanishedCards(
    DraftStore store, CardSender sender, CardFollowUps followUps, TelegramChat chat, RecordedBot recordedBot, ChatReadmission readmission,
    IOptions<TelegramOptions> options, TimeProvider time, ILogger<VanishedCards> logger) : IHostedService, IDisposable
{
    private const int Page = 100;

    private readonly TelegramOptions _options = options.Value;
    private readonly TaskCompletionSource<int> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Channel<bool> _readmitted = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private Task? _pass;

    // Only the pass touches these: the start's, then one at each readmission while drafts wait on the chat, one after the other.
    // The drafts whose card the chat refused (or, after a refusal, was not tried: it would have been refused the same way).
    private readonly HashSet<string> _waitingOnChat = new(StringComparer.Ordinal);

    // What the start's pass looked at (the switch and the fresh sandbox's first id), for the passes at readmission.
    private BotSwitch? _change;
    private long? _first;

    // A card was lost for another reason than the chat (or a pass failed midway): the switch is left for the next start.
    private bool _switchLeft;

    /// <summary>How many cards the start's pass sent again, once every draft was looked at; for tests.</summary>
    public Task<int> Done => _done.Task;

    /// <summary>
    /// Starts the pass beside the other services. Not a <see cref="BackgroundService"/>: those are the host's loops, and
    /// one that ends while the service runs stops it (<see cref="Hosting.BackgroundLoops"/>), while this pass ends once done
    /// (once no card waits on the chat, or at the stop).
    /// </summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Runs on the update poller: it only leaves word for the pass. One that came before a refusal costs one try.
        readmission.Subscribe(() => _readmitted.Writer.TryWrite(true));
        _pass = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // Done already, or never started: nothing to stop (a host is stopped again as it is disposed).
        if (_pass is not { IsCompleted: false } pass)
        {
            return;
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        await pass.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public void Dispose() => _stopping.Dispose();

    private async Task RunAsync(CancellationToken stoppingToken)
    {
        var resent = 0;
        try
        {
            resent = await ResendAllAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            _done.TrySetCanceled(stoppingToken);
            return;
        }
        catch (Exception ex)
        {
            // The pipe and the new cards go on regardless: only the drafts left keep no card to tap until the next start.
            LogPassFailed(ex);
            _switchLeft = true;
        }
        _done.TrySetResult(resent);
        await ResendOnReadmissionAsync(stoppingToken).ConfigureAwait(false);
    }

    private async Task<int> ResendAllAsync(CancellationToken stoppingToken)
    {
        (_change, _first) = (recordedBot.Switch, chat.FreshSandboxFirstMessageId);
        var tally = new Tally();
        long after = 0;
        while (true)
        {
            var page = await ReadPageAsync(after, stoppingToken).ConfigureAwait(false);
            foreach (var draft in page)
            {
                if (ReasonToResend(draft, _first, _change) is { } reason)
                {
                    await ResendOneAsync(draft, reason, tally, stoppingToken).ConfigureAwait(false);
                }
            }
            if (page.Count < Page)
            {
                break;
            }
            after = page[^1].Seq;
        }
        if (tally.Any)
        {
            LogResent(tally.Resent, tally.Unconfirmed, tally.Lost, tally.Refused);
        }
        if (tally.Refusal is { } refusal)
        {
            LogWaitingOnChat(refusal.Error, chat.ChatId, refusal.Error.ErrorCode, refusal.Error.Description, refusal.DraftId, tally.Refused);
        }
        _switchLeft |= tally.Lost > 0;
        await SwitchDoneIfLastAsync().ConfigureAwait(false);
        return tally.Resent;
    }

    /// <summary>
    /// While drafts wait on the chat: at each word from Telegram that the bot may post there again, their cards are sent,
    /// until none waits. Readmissions that come while a pass runs are one more pass after it.
    /// </summary>
    private async Task ResendOnReadmissionAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (_waitingOnChat.Count > 0)
            {
                await _readmitted.Reader.ReadAsync(stoppingToken).ConfigureAwait(false);
                try
                {
                    await ResendWaitingAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    // The drafts not sent keep waiting: the next readmission, or the next start, takes them up.
                    LogReadmissionPassFailed(ex, _waitingOnChat.Count);
                    _switchLeft = true;
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopped: the drafts still waiting on the chat are looked at again at the next start.
        }
    }

    private async Task ResendWaitingAsync(CancellationToken stoppingToken)
    {
        var drafts = await ReadWaitingAsync(stoppingToken).ConfigureAwait(false);
        // Decided (or withdrawn, expired) meanwhile: their outcome is in the store, and no card is needed.
        _waitingOnChat.IntersectWith(drafts.Select(d => d.Id));
        var tally = new Tally();
        foreach (var draft in drafts)
        {
            if (ReasonToResend(draft, _first, _change) is { } reason)
            {
                await ResendOneAsync(draft, reason, tally, stoppingToken).ConfigureAwait(false);
            }
            else
            {
                // Given a card in reach meanwhile (/card, Resend card).
                _waitingOnChat.Remove(draft.Id);
            }
        }
        if (tally.Refusal is { } refusal)
        {
            LogStillWaitingOnChat(chat.ChatId, refusal.Error.ErrorCode, refusal.Error.Description, tally.Refused);
        }
        else if (tally.Any)
        {
            LogReadmitted(tally.Resent, tally.Unconfirmed, tally.Lost);
        }
        _switchLeft |= tally.Lost > 0;
        await SwitchDoneIfLastAsync().ConfigureAwait(false);
    }

    /// <summary>Every card of the former bot awaiting a decision went out: the switch is done, as at a start.</summary>
    private async Task SwitchDoneIfLastAsync()
    {
        if (_change is { } change && !_switchLeft && _waitingOnChat.Count == 0)
        {
            // An unconfirmed card was recorded after the switch's boundary; a card left unsent keeps the switch for the next start.
            await recordedBot.SwitchDoneAsync(change).ConfigureAwait(false);
            _change = null;
        }
    }

    /// <summary>
    /// Sends the card of <paramref name="draft"/> again and counts the outcome; after the chat refused the bot in this pass,
    /// only puts it with the drafts waiting on the chat, since it would be refused the same way.
    /// </summary>
    private async Task ResendOneAsync(Draft draft, string reason, Tally tally, CancellationToken stoppingToken)
    {
        if (tally.Refusal is null)
        {
            var outcome = await ResendAsync(draft, reason, stoppingToken).ConfigureAwait(false);
            switch (outcome.Kind)
            {
                case Resent.Sent:
                    tally.Resent++;
                    _waitingOnChat.Remove(draft.Id);
                    return;
                case Resent.Unconfirmed:
                    tally.Unconfirmed++;
                    _waitingOnChat.Remove(draft.Id);
                    return;
                case Resent.Lost:
                    tally.Lost++;
                    _waitingOnChat.Remove(draft.Id);
                    return;
                default:
                    tally.Refusal = (outcome.Refusal!, draft.Id);
                    break;
            }
        }
        tally.Refused++;
        _waitingOnChat.Add(draft.Id);
    }

    /// <summary>
    /// Why the draft's card is out of the approvers' reach, or null when it is not: in another chat than theirs, posted by
    /// another bot, or (with the built-in sandbox) sent before this start. Cards sent by this run are in the approvers' chat,
    /// recorded after any switch of bots and, with the sandbox, have ids from <paramref name="first"/> on, so this pass never
    /// sends one of them again. A draft with no message on record (sent unconfirmed) is sent again only when its chat or its
    /// bot changed: an unconfirmed copy in this run's chat, by this run's bot, is still there to tap.
    /// </summary>
    private string? ReasonToResend(Draft draft, long? first, BotSwitch? change) => draft switch
    {
        { CardChatId: { } cardChat } when !chat.IsApproversChat(cardChat) => CardSender.ChatChangedReason,
        _ when change is not null && recordedBot.CardRecordedBefore(draft.Id, change) => CardSender.BotChangedReason,
        { CardMessageId: { } message } when message < first => CardSender.SandboxRestartedReason,
        _ => null,
    };

    /// <summary>
    /// The next drafts awaiting a decision, in seq order: read from drafts_by_state, whose entries of a state are in seq
    /// order (every carded draft: a few thousand at most, however big the store).
    /// </summary>
    private Task<IReadOnlyList<Draft>> ReadPageAsync(long after, CancellationToken stoppingToken) =>
        QueryAsync(DraftColumns.Select + " WHERE state = 'carded' AND seq > $after ORDER BY seq LIMIT $limit", stoppingToken, ("$after", after), ("$limit", Page));

    /// <summary>
    /// The drafts waiting on the chat that still await a decision, in seq order (a few thousand at most: those the chat
    /// refused at start).
    /// </summary>
    private Task<IReadOnlyList<Draft>> ReadWaitingAsync(CancellationToken stoppingToken) =>
        QueryAsync(DraftColumns.Select + " WHERE state = 'carded' AND id IN (SELECT value FROM json_each($ids)) ORDER BY seq", stoppingToken,
            ("$ids", new JsonArray([.. _waitingOnChat.Select(id => JsonValue.Create(id))]).ToJsonString()));

    /// <summary>Reads drafts, waiting out a store that is away with the card backoff (the pass has nothing else to do meanwhile).</summary>
    private async Task<IReadOnlyList<Draft>> QueryAsync(string sql, CancellationToken stoppingToken, params (string Name, object? Value)[] parameters)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return store.Query(sql, parameters);
            }
            catch (StoreUnavailableException ex)
            {
                var delay = _options.CardRetryDelay(attempt);
                LogReadFailed(ex, delay.TotalSeconds);
                await Task.Delay(delay, time, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    private enum Resent
    {
        Sent,
        Unconfirmed,
        Lost,
        ChatRefused,
    }

    /// <summary>How a send went; with the refusal when the chat refused the bot.</summary>
    private readonly record struct Outcome(Resent Kind, ApiRequestException? Refusal = null);

    /// <summary>One pass's counts, and the first refusal of the bot by the chat (after which nothing more is tried).</summary>
    private sealed class Tally
    {
        public int Resent { get; set; }
        public int Unconfirmed { get; set; }
        public int Lost { get; set; }
        public int Refused { get; set; }
        public (ApiRequestException Error, string DraftId)? Refusal { get; set; }
        public bool Any => Resent + Unconfirmed + Lost + Refused > 0;
    }

    /// <summary>
    /// Sends the draft's card again and records it as its card. A failure that can pass is tried again with the card
    /// backoff, up to <see cref="TelegramOptions.CardMaxAttempts"/>; an answer to the card that cannot be read is not: the card
    /// most likely went out, and another try would post another copy. One to a long draft's file (sent first) says the card
    /// was not sent: file and card go once more, as in the outbox. The chat refusing the bot is no failure of the card: it
    /// waits on the chat.
    /// </summary>
    private async Task<Outcome> ResendAsync(Draft draft, string reason, CancellationToken stoppingToken)
    {
        var (oldChat, oldMessage) = (draft.CardChatId, draft.CardMessageId);
        SentCard sent;
        var unreadableFiles = 0;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                sent = await sender.SendAsync(draft, stoppingToken).ConfigureAwait(false);
                break;
            }
            catch (ApiRequestException ex) when (ex.IsChatRefused)
            {
                return new Outcome(Resent.ChatRefused, ex);
            }
            catch (ApiRequestException ex) when (ex.OutcomeUnknown && !ex.IsDocumentSend)
            {
                return await RecordUnconfirmedAsync(draft, reason, attempt, ex).ConfigureAwait(false);
            }
            catch (ApiRequestException ex) when (ex.OutcomeUnknown && ++unreadableFiles >= CardOutbox.MaxUnreadableSends)
            {
                // Only a long draft's file went out (most likely), each time: the card itself never did, so it is not recorded as
                // in the chat; sending on would only post more copies of the file, as the outbox stops after as many.
                LogResendGaveUp(ex, draft.Id, attempt);
                return new Outcome(Resent.Lost);
            }
            catch (ApiRequestException ex) when (ex.IsTransient && attempt < _options.CardMaxAttempts)
            {
                var delay = _options.CardRetryDelay(attempt);
                LogResendRetry(draft.Id, attempt, delay.TotalSeconds, ex.Message);
                await Task.Delay(delay, time, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ApiRequestException || CardSender.IsCardFault(ex, stoppingToken))
            {
                LogResendGaveUp(ex, draft.Id, attempt);
                return new Outcome(Resent.Lost);
            }
        }
        // Recorded or not, the card is in the chat and a tap on it decides; if another card became its card meanwhile, that one.
        if (await followUps.RecordMovedAsync(draft, oldChat, oldMessage, sent, reason, stoppingToken).ConfigureAwait(false)
            is { Recorded: { } moved })
        {
            if (reason == CardSender.SandboxRestartedReason)
            {
                LogCardResent(draft.Id, oldMessage, sent.MessageId, moved);
            }
            else
            {
                LogCardMovedToChat(draft.Id, oldMessage, oldChat, sent.MessageId, sent.ChatId, reason, moved);
            }
        }
        return new Outcome(Resent.Sent);
    }

    /// <summary>
    /// The card sent again is most likely in the chat, its message id unknown: recorded as such (the old card, out of reach,
    /// is no longer the card on record), so neither this pass nor a later start posts another copy; a tap on it decides.
    /// Unrecorded (the draft changed meanwhile, or the store refused the write), the old card stays on record.
    /// </summary>
    private async Task<Outcome> RecordUnconfirmedAsync(Draft draft, string reason, int attempt, ApiRequestException ex)
    {
        var chatId = chat.ChatId;
        var error = $"{ex.Description} ({ex.Method}): the card sent again ({reason}) is most likely in chat {chatId}, but Telegram's answer could not be read, " +
            "so it has no message on record; not sent again unasked. A tap on it decides once; Resend card (/card) sends one that is recorded";
        bool recorded;
        try
        {
            recorded = await sender.RecordUnconfirmedAsync(draft.Id, draft.CardChatId, draft.CardMessageId, chatId, error,
                new JsonObject { ["reason"] = reason, ["attempt"] = attempt, ["method"] = ex.Method, ["description"] = ex.Description }).ConfigureAwait(false);
        }
        catch (Exception write) when (write is StoreUnavailableException or SqliteException)
        {
            LogUnconfirmedNotRecorded(write, draft.Id);
            recorded = false;
        }
        LogResendUnconfirmed(draft.Id, reason, chatId, ex.Method, ex.Description, recorded);
        return new Outcome(Resent.Unconfirmed);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Card of {DraftId} sent again as message {MessageId}: its card (message {OldMessageId}) went with the " +
        "built-in sandbox of an earlier run; recorded as its card: {Recorded}")]
    private partial void LogCardResent(string draftId, long? oldMessageId, long messageId, bool recorded);

    [LoggerMessage(Level = LogLevel.Information, Message = "Card of {DraftId} sent again as message {MessageId} in chat {ChatId}: its card (message {OldMessageId} " +
        "in chat {OldChatId}) is out of the approvers' reach ({Reason}: chat_changed, a chat that is no longer theirs; bot_changed, posted by another bot " +
        "than this run's); recorded as its card: {Recorded}")]
    private partial void LogCardMovedToChat(string draftId, long? oldMessageId, long? oldChatId, long messageId, long chatId, string reason, bool recorded);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Resent} draft(s) awaiting a decision got their card again in the approvers' chat " +
        "(their cards went with an earlier run's built-in sandbox, are in a chat that is no longer the approvers', or were posted by another bot); " +
        "{Unconfirmed} most likely did but Telegram's answer could not be read (see above); {Lost} could not be sent " +
        "(see above) and have no card to tap until the next start (or /card <id>); {WaitingOnChat} wait until the chat takes the bot (see below)")]
    private partial void LogResent(int resent, int unconfirmed, int lost, int waitingOnChat);

    [LoggerMessage(Level = LogLevel.Error, EventName = "VanishedCardsWaitOnChat",
        Message = "Chat {ChatId} refuses the bot ({ErrorCode} {Description}, card of {DraftId}): the cards of {Count} draft(s) awaiting a decision, out of the " +
        "approvers' reach, were not sent again (every one would be refused the same way), and those drafts have no card to tap. Unblock the bot, or add it " +
        "to the group with the right to post: they are sent as soon as Telegram says it may post there again (else at the next start, or /card <id>)")]
    private partial void LogWaitingOnChat(Exception ex, long chatId, int errorCode, string description, string draftId, int count);

    [LoggerMessage(Level = LogLevel.Warning, EventName = "VanishedCardsStillWaitOnChat",
        Message = "Telegram said the bot may post in chat {ChatId} again, but it still refuses the bot ({ErrorCode} {Description}): the cards of {Count} " +
        "draft(s) awaiting a decision wait for its next word (or the next start, or /card <id>)")]
    private partial void LogStillWaitingOnChat(long chatId, int errorCode, string description, int count);

    [LoggerMessage(Level = LogLevel.Information, EventName = "VanishedCardsSentOnReadmission",
        Message = "The bot may post in the approvers' chat again: {Resent} draft(s) whose card the chat refused at start got it now; {Unconfirmed} most " +
        "likely did but Telegram's answer could not be read; {Lost} could not be sent (see above) and have no card to tap until the next start (or /card <id>)")]
    private partial void LogReadmitted(int resent, int unconfirmed, int lost);

    [LoggerMessage(Level = LogLevel.Error, Message = "Sending the cards the chat refused at start failed unexpectedly; {Count} draft(s) still wait for the " +
        "chat's next readmission of the bot (or the next start)")]
    private partial void LogReadmissionPassFailed(Exception ex, int count);

    [LoggerMessage(Level = LogLevel.Warning, EventName = "VanishedCardOutcomeUnknown",
        Message = "The card of {DraftId} sent again ({Reason}) is most likely in chat {ChatId}, but Telegram's answer to {Method} could not be read ({Description}); " +
        "not sent again (another try would post another copy), recorded as sent unconfirmed, with no message on record: {Recorded}. A tap on it decides once; " +
        "/orphans lists it (card_unconfirmed) with Resend card, as /card <id> does")]
    private partial void LogResendUnconfirmed(string draftId, string reason, long chatId, string method, string description, bool recorded);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record that the card of {DraftId} was sent again unconfirmed; its old card stays on record")]
    private partial void LogUnconfirmedNotRecorded(Exception ex, string draftId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not send the card of {DraftId} again (attempt {Attempt}); trying again in {DelaySeconds} s: {Reason}")]
    private partial void LogResendRetry(string draftId, int attempt, double delaySeconds, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not send the card of {DraftId} again after {Attempt} attempt(s); it has no card to tap until the next start (or /card <id>)")]
    private partial void LogResendGaveUp(Exception ex, string draftId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read which drafts' cards are out of the approvers' reach; trying again in {DelaySeconds} s")]
    private partial void LogReadFailed(Exception ex, double delaySeconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Sending the cards out of the approvers' reach again failed unexpectedly; the drafts left have no card to tap until the next start")]
    private partial void LogPassFailed(Exception ex);
}
