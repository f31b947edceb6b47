using System.Threading.Channels;
using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Api;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Telegram.Cards;

/// <summary>
/// Keeps a card telling the truth after the decision: when execution moves a draft on (executed, failed,
/// blocked, unknown, cancelled, expired, or back to approved for a retry), the card is edited to show it.
/// Decisions themselves are shown by the decision handler, in the order the issue asks for. An edit that
/// fails for a reason that can pass (Telegram down, the store briefly unavailable) is tried again with the
/// card outbox's backoff and attempt limit, so a card does not keep showing "Approved" after an outage.
/// </summary>
internal sealed partial class CardFollowUps(
    DraftStore store, CardSender sender, IOptions<TelegramOptions> options, TimeProvider time, ILogger<CardFollowUps> logger) : BackgroundService
{
    private readonly Channel<(string Id, int Attempt)> _changed = Channel.CreateUnbounded<(string, int)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly TelegramOptions _options = options.Value;

    public static bool ShowsOnCard(DraftChange change) => change.To switch
    {
        DraftState.Executed or DraftState.Failed or DraftState.Blocked or DraftState.Unknown or DraftState.Cancelled or DraftState.Expired => true,
        DraftState.Approved => change.From is DraftState.Failed or DraftState.Unknown,
        _ => false,
    };

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        store.Signals.Subscribe(change =>
        {
            if (ShowsOnCard(change))
            {
                _changed.Writer.TryWrite((change.Id, 1));
            }
        });
        try
        {
            await foreach (var (id, attempt) in _changed.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                await FollowUpAsync(id, attempt, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task FollowUpAsync(string id, int attempt, CancellationToken stoppingToken)
    {
        try
        {
            var draft = store.Get(id);
            if (draft?.CardChatId is not { } chatId || draft.CardMessageId is not { } messageId)
            {
                return;
            }
            await sender.ShowLatestAsync(id, chatId, messageId, stoppingToken).ConfigureAwait(false);
            LogFollowedUp(id, draft.State.ToWire());
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is ApiRequestException or StoreUnavailableException)
        {
            var passing = ex is StoreUnavailableException || (ex is ApiRequestException api && api.IsTransient);
            if (!passing || attempt >= _options.CardMaxAttempts)
            {
                LogFollowUpGaveUp(ex, id, attempt);
                return;
            }
            var delay = _options.CardRetryDelay(attempt);
            LogFollowUpRetry(id, attempt, delay.TotalSeconds, ex.Message);
            _ = RetryLaterAsync(id, attempt + 1, delay, stoppingToken);
        }
    }

    private async Task RetryLaterAsync(string id, int attempt, TimeSpan delay, CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(delay, time, stoppingToken).ConfigureAwait(false);
            _changed.Writer.TryWrite((id, attempt));
        }
        catch (OperationCanceledException)
        {
            // Shutting down: the card keeps its last state until the draft changes again.
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Card of {DraftId} now shows {State}")]
    private partial void LogFollowedUp(string draftId, string state);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not update the card of {DraftId} with its outcome (attempt {Attempt}); trying again in {DelaySeconds} s: {Reason}")]
    private partial void LogFollowUpRetry(string draftId, int attempt, double delaySeconds, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not update the card of {DraftId} with its outcome after {Attempt} attempt(s); it shows an older state until the draft changes again")]
    private partial void LogFollowUpGaveUp(Exception ex, string draftId, int attempt);
}
