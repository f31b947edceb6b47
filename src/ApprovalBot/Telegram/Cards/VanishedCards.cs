using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Api;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Telegram.Cards;

/// <summary>
/// Built-in sandbox only: its chats live in memory, so after a restart the cards of drafts still awaiting a decision
/// are gone, and nothing else would ever give the approver a button to tap. Once at start, each such draft (carded, its
/// card on record below the fresh sandbox's first message id, see <see cref="TelegramChat.FreshSandboxFirstMessageId"/>)
/// gets its card sent again, oldest first, recorded as its card like a card moved to a supergroup (<c>card_moved</c>,
/// reason <c>sandbox_restarted</c>). Drafts decided before the restart get nothing: their outcome is in the store
/// (<c>/status</c>), and an edit of their old card meets no message of the new sandbox (its ids start above every card
/// on record), which is recorded as <c>card_edit_refused</c> like a card deleted by hand. With a real bot this does
/// nothing: a Telegram chat keeps its messages.
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

    /// <summary>How many cards were sent again, once every draft was looked at (0 with a real bot); for tests.</summary>
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
            if (chat.FreshSandboxFirstMessageId is { } first)
            {
                resent = await ResendAllAsync(first, stoppingToken).ConfigureAwait(false);
            }
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

    private async Task<int> ResendAllAsync(long first, CancellationToken stoppingToken)
    {
        var resent = 0;
        var lost = 0;
        long after = 0;
        while (true)
        {
            var page = await ReadPageAsync(first, after, stoppingToken).ConfigureAwait(false);
            foreach (var draft in page)
            {
                if (await ResendAsync(draft, stoppingToken).ConfigureAwait(false))
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
    /// The next drafts awaiting a decision whose card was sent before this start, in seq order: read from
    /// drafts_by_state, whose entries of a state are in seq order. Cards sent by this run have ids from
    /// <paramref name="first"/> on, so this pass never sends one of them again.
    /// </summary>
    private async Task<IReadOnlyList<Draft>> ReadPageAsync(long first, long after, CancellationToken stoppingToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return store.Query(
                    DraftColumns.Select + " WHERE state = 'carded' AND card_message_id < $first AND seq > $after ORDER BY seq LIMIT $limit",
                    ("$first", first), ("$after", after), ("$limit", Page));
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
    private async Task<bool> ResendAsync(Draft draft, CancellationToken stoppingToken)
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
        if (await followUps.RecordMovedAsync(draft, oldChat, oldMessage, sent, CardSender.SandboxRestartedReason, stoppingToken).ConfigureAwait(false)
            is { Recorded: { } moved })
        {
            LogCardResent(draft.Id, oldMessage, sent.MessageId, moved);
        }
        return true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Card of {DraftId} sent again as message {MessageId}: its card (message {OldMessageId}) went with the " +
        "built-in sandbox of an earlier run; recorded as its card: {Recorded}")]
    private partial void LogCardResent(string draftId, long oldMessageId, long messageId, bool recorded);

    [LoggerMessage(Level = LogLevel.Information, Message = "The built-in sandbox starts empty: {Resent} draft(s) awaiting a decision got their card again " +
        "(their cards went with the earlier run's sandbox); {Lost} could not be sent (see above) and have no card to tap until the next start")]
    private partial void LogResent(int resent, int lost);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not send the card of {DraftId} again (attempt {Attempt}); trying again in {DelaySeconds} s: {Reason}")]
    private partial void LogResendRetry(string draftId, int attempt, double delaySeconds, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not send the card of {DraftId} again after {Attempt} attempt(s); it has no card to tap in the sandbox until the next start")]
    private partial void LogResendGaveUp(Exception ex, string draftId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read which drafts' cards went with the earlier sandbox; trying again in {DelaySeconds} s")]
    private partial void LogReadFailed(Exception ex, double delaySeconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Sending the cards of the earlier sandbox again failed unexpectedly; the drafts left have no card to tap until the next start")]
    private partial void LogPassFailed(Exception ex);
}
