using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Api;
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
/// <item>with the built-in sandbox, its card is below the fresh sandbox's first message id (see
/// <see cref="TelegramChat.FreshSandboxFirstMessageId"/>): its chats live in memory, so it went with the earlier run's
/// sandbox: reason <c>sandbox_restarted</c>.</item>
/// </list>
/// Drafts decided before get nothing: their outcome is in the store (<c>/status</c>), and an edit of their old card meets
/// no message of a new sandbox (its ids start above every card on record), which is recorded as <c>card_edit_refused</c>
/// like a card deleted by hand, or goes to the former chat, where a refusal of the bot ("chat not found" for the sandbox's
/// chat, 403 for a group the bot left) is recorded the same way (<see cref="CardSender.ShowLatestAsync"/>). A real bot
/// whose chat did not change sends nothing again: a Telegram chat keeps its messages.
/// </summary>
internal sealed partial class VanishedCards(
    DraftStore store, CardSender sender, CardFollowUps followUps, TelegramChat chat, IOptions<TelegramOptions> options, TimeProvider time,
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
        var lost = 0;
        long after = 0;
        while (true)
        {
            var page = await ReadPageAsync(first, after, stoppingToken).ConfigureAwait(false);
            foreach (var draft in page)
            {
                if (ReasonToResend(draft, first) is not { } reason)
                {
                    continue;
                }
                if (await ResendAsync(draft, reason, stoppingToken).ConfigureAwait(false))
                {
                    resent++;
                }
                else
                {
                    lost++;
                }
            }
            if (page.Count < Page)
            {
                break;
            }
            after = page[^1].Seq;
        }
        if (resent + lost > 0)
        {
            LogResent(resent, lost);
        }
        return resent;
    }

    /// <summary>
    /// Why the draft's card is out of the approvers' reach, or null when it is not: in another chat than theirs, or (with
    /// the built-in sandbox) sent before this start. Cards sent by this run are in the approvers' chat and, with the
    /// sandbox, have ids from <paramref name="first"/> on, so this pass never sends one of them again.
    /// </summary>
    private string? ReasonToResend(Draft draft, long? first) => draft switch
    {
        { CardChatId: { } cardChat } when !chat.IsApproversChat(cardChat) => CardSender.ChatChangedReason,
        { CardMessageId: { } message } when message < first => CardSender.SandboxRestartedReason,
        _ => null,
    };

    /// <summary>
    /// The next drafts awaiting a decision with a card, in seq order: read from drafts_by_state, whose entries of a state
    /// are in seq order (every carded draft: a few thousand at most, however big the store).
    /// </summary>
    private async Task<IReadOnlyList<Draft>> ReadPageAsync(long? first, long after, CancellationToken stoppingToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return store.Query(
                    DraftColumns.Select + " WHERE state = 'carded' AND card_message_id IS NOT NULL AND seq > $after ORDER BY seq LIMIT $limit",
                    ("$after", after), ("$limit", Page));
            }
            catch (StoreUnavailableException ex)
            {
                var delay = _options.CardRetryDelay(attempt);
                LogReadFailed(ex, delay.TotalSeconds);
                await Task.Delay(delay, time, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Sends the draft's card again and records it as its card; true once the approver has a card to tap. A failure
    /// that can pass is tried again with the card backoff, up to <see cref="TelegramOptions.CardMaxAttempts"/>.
    /// </summary>
    private async Task<bool> ResendAsync(Draft draft, string reason, CancellationToken stoppingToken)
    {
        if (draft is not { CardChatId: { } oldChat, CardMessageId: { } oldMessage })
        {
            return false;
        }
        SentCard sent;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                sent = await sender.SendAsync(draft, stoppingToken).ConfigureAwait(false);
                break;
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
                return false;
            }
        }
        // Recorded or not, the card is in the chat and a tap on it decides; if another card became its card meanwhile, that one.
        if (await followUps.RecordMovedAsync(draft, oldChat, oldMessage, sent, reason, stoppingToken).ConfigureAwait(false)
            is { Recorded: { } moved })
        {
            if (reason == CardSender.ChatChangedReason)
            {
                LogCardMovedToChat(draft.Id, oldMessage, oldChat, sent.MessageId, sent.ChatId, moved);
            }
            else
            {
                LogCardResent(draft.Id, oldMessage, sent.MessageId, moved);
            }
        }
        return true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Card of {DraftId} sent again as message {MessageId}: its card (message {OldMessageId}) went with the " +
        "built-in sandbox of an earlier run; recorded as its card: {Recorded}")]
    private partial void LogCardResent(string draftId, long oldMessageId, long messageId, bool recorded);

    [LoggerMessage(Level = LogLevel.Information, Message = "Card of {DraftId} sent again as message {MessageId} in chat {ChatId}: its card (message {OldMessageId} " +
        "in chat {OldChatId}) is in a chat that is no longer the approvers' (ChatId changed, or a real bot took over from the built-in sandbox); recorded as its card: {Recorded}")]
    private partial void LogCardMovedToChat(string draftId, long oldMessageId, long oldChatId, long messageId, long chatId, bool recorded);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Resent} draft(s) awaiting a decision got their card again in the approvers' chat " +
        "(their cards went with an earlier run's built-in sandbox, or are in a chat that is no longer the approvers'); {Lost} could not be sent " +
        "(see above) and have no card to tap until the next start (or /card <id>)")]
    private partial void LogResent(int resent, int lost);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not send the card of {DraftId} again (attempt {Attempt}); trying again in {DelaySeconds} s: {Reason}")]
    private partial void LogResendRetry(string draftId, int attempt, double delaySeconds, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not send the card of {DraftId} again after {Attempt} attempt(s); it has no card to tap until the next start (or /card <id>)")]
    private partial void LogResendGaveUp(Exception ex, string draftId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read which drafts' cards are out of the approvers' reach; trying again in {DelaySeconds} s")]
    private partial void LogReadFailed(Exception ex, double delaySeconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Sending the cards out of the approvers' reach again failed unexpectedly; the drafts left have no card to tap until the next start")]
    private partial void LogPassFailed(Exception ex);
}
