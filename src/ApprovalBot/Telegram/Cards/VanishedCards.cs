using System.Text.Json.Nodes;
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
/// </summary>
internal sealed partial class VanishedCards(
    DraftStore store, CardSender sender, CardFollowUps followUps, TelegramChat chat, RecordedBot recordedBot, IOptions<TelegramOptions> options, TimeProvider time,
    ILogger<VanishedCards> logger) : IHostedService, IDisposable
{
    private const int Page = 100;

    private readonly TelegramOptions _options = options.Value;
    private readonly TaskCompletionSource<int> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private Task? _pass;

    /// <summary>How many cards were sent again, once every draft was looked at; for tests.</summary>
    public Task<int> Done => _done.Task;

    /// <summary>
    /// Starts the pass beside the other services. Not a <see cref="BackgroundService"/>: those are the host's loops, and
    /// one that ends while the service runs stops it (<see cref="Hosting.BackgroundLoops"/>), while this pass ends once done.
    /// </summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
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
            resent = await ResendAllAsync(chat.FreshSandboxFirstMessageId, stoppingToken).ConfigureAwait(false);
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
        }
        _done.TrySetResult(resent);
    }

    private async Task<int> ResendAllAsync(long? first, CancellationToken stoppingToken)
    {
        var resent = 0;
        var unconfirmed = 0;
        var lost = 0;
        var change = recordedBot.Switch;
        long after = 0;
        while (true)
        {
            var page = await ReadPageAsync(after, stoppingToken).ConfigureAwait(false);
            foreach (var draft in page)
            {
                if (ReasonToResend(draft, first, change) is not { } reason)
                {
                    continue;
                }
                switch (await ResendAsync(draft, reason, stoppingToken).ConfigureAwait(false))
                {
                    case Resent.Sent:
                        resent++;
                        break;
                    case Resent.Unconfirmed:
                        unconfirmed++;
                        break;
                    default:
                        lost++;
                        break;
                }
            }
            if (page.Count < Page)
            {
                break;
            }
            after = page[^1].Seq;
        }
        if (resent + unconfirmed + lost > 0)
        {
            LogResent(resent, unconfirmed, lost);
        }
        if (change is not null && lost == 0)
        {
            // A card left unsent keeps the switch for the next start; an unconfirmed one was recorded after its boundary.
            await recordedBot.SwitchDoneAsync(change).ConfigureAwait(false);
        }
        return resent;
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
    private async Task<IReadOnlyList<Draft>> ReadPageAsync(long after, CancellationToken stoppingToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return store.Query(DraftColumns.Select + " WHERE state = 'carded' AND seq > $after ORDER BY seq LIMIT $limit", ("$after", after), ("$limit", Page));
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
    }

    /// <summary>
    /// Sends the draft's card again and records it as its card. A failure that can pass is tried again with the card
    /// backoff, up to <see cref="TelegramOptions.CardMaxAttempts"/>; an answer to the card that cannot be read is not: the card
    /// most likely went out, and another try would post another copy. One to a long draft's file (sent first) says the card
    /// was not sent: file and card go once more, as in the outbox.
    /// </summary>
    private async Task<Resent> ResendAsync(Draft draft, string reason, CancellationToken stoppingToken)
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
            catch (ApiRequestException ex) when (ex.OutcomeUnknown && ex.Method != "sendDocument")
            {
                return await RecordUnconfirmedAsync(draft, reason, attempt, ex).ConfigureAwait(false);
            }
            catch (ApiRequestException ex) when (ex.OutcomeUnknown && ++unreadableFiles >= CardOutbox.MaxUnreadableSends)
            {
                // Only a long draft's file went out (most likely), each time: the card itself never did, so it is not recorded as
                // in the chat; sending on would only post more copies of the file, as the outbox stops after as many.
                LogResendGaveUp(ex, draft.Id, attempt);
                return Resent.Lost;
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
                return Resent.Lost;
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
        return Resent.Sent;
    }

    /// <summary>
    /// The card sent again is most likely in the chat, its message id unknown: recorded as such (the old card, out of reach,
    /// is no longer the card on record), so neither this pass nor a later start posts another copy; a tap on it decides.
    /// Unrecorded (the draft changed meanwhile, or the store refused the write), the old card stays on record.
    /// </summary>
    private async Task<Resent> RecordUnconfirmedAsync(Draft draft, string reason, int attempt, ApiRequestException ex)
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
        return Resent.Unconfirmed;
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
        "(see above) and have no card to tap until the next start (or /card <id>)")]
    private partial void LogResent(int resent, int unconfirmed, int lost);

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
