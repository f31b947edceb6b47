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
/// card outbox's backoff and attempt limit, so a card does not keep showing "Approved" after an outage; the
/// decision handler and the outbox hand their own failed edits here (<see cref="RetryEdit"/>) for the same retries.
/// </summary>
internal sealed partial class CardFollowUps(
    DraftStore store, CardSender sender, IOptions<TelegramOptions> options, TimeProvider time, ILogger<CardFollowUps> logger) : BackgroundService
{
    private readonly Channel<FollowUp> _changed = Channel.CreateUnbounded<FollowUp>(new UnboundedChannelOptions { SingleReader = true });
    private readonly TelegramOptions _options = options.Value;
    private CancellationToken _stopping;

    /// <summary>An edit to make: of the draft's card on record, or of one given message (a tapped copy, a card that arrived late).</summary>
    private sealed record FollowUp(string Id, int Attempt, long? ChatId = null, long? MessageId = null);

    public static bool ShowsOnCard(DraftChange change) => change.To switch
    {
        DraftState.Executed or DraftState.Failed or DraftState.Blocked or DraftState.Unknown or DraftState.Cancelled or DraftState.Expired => true,
        DraftState.Approved => change.From is DraftState.Failed or DraftState.Unknown,
        _ => false,
    };

    /// <summary>A failed edit worth trying again: Telegram down or throttling, or the store briefly unavailable.</summary>
    public static bool CanPass(Exception ex) => ex is StoreUnavailableException || (ex is ApiRequestException api && api.IsTransient);

    /// <summary>
    /// Another component's edit of message <paramref name="messageId"/> (its first attempt) failed with <paramref name="failure"/>:
    /// if that can pass, the message is shown the draft's latest state again after the backoff, like an outcome's edit.
    /// </summary>
    public void RetryEdit(string draftId, long chatId, long messageId, Exception failure) =>
        RetryOrGiveUp(new FollowUp(draftId, 1, chatId, messageId), failure, _stopping);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _stopping = stoppingToken;
        store.Signals.Subscribe(change =>
        {
            if (ShowsOnCard(change))
            {
                _changed.Writer.TryWrite(new FollowUp(change.Id, 1));
            }
        });
        try
        {
            await foreach (var followUp in _changed.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                await FollowUpAsync(followUp, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task FollowUpAsync(FollowUp followUp, CancellationToken stoppingToken)
    {
        var (id, _, givenChat, givenMessage) = followUp;
        try
        {
            var draft = store.Get(id);
            if (draft is null)
            {
                return;
            }
            long chatId, messageId;
            if (givenChat is { } c && givenMessage is { } m)
            {
                (chatId, messageId) = (c, m);
            }
            else if (draft is { CardChatId: { } cardChat, CardMessageId: { } cardMessage })
            {
                (chatId, messageId) = (cardChat, cardMessage);
            }
            else
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
            RetryOrGiveUp(followUp, ex, stoppingToken);
        }
    }

    /// <summary>After a failed attempt: the next one after the backoff if the failure can pass and attempts remain, else a warning.</summary>
    private void RetryOrGiveUp(FollowUp failed, Exception failure, CancellationToken stoppingToken)
    {
        if (!CanPass(failure) || failed.Attempt >= _options.CardMaxAttempts)
        {
            LogFollowUpGaveUp(failure, failed.Id, failed.Attempt);
            return;
        }
        var delay = _options.CardRetryDelay(failed.Attempt);
        LogFollowUpRetry(failed.Id, failed.Attempt, delay.TotalSeconds, failure.Message);
        _ = RetryLaterAsync(failed with { Attempt = failed.Attempt + 1 }, delay, stoppingToken);
    }

    private async Task RetryLaterAsync(FollowUp followUp, TimeSpan delay, CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(delay, time, stoppingToken).ConfigureAwait(false);
            _changed.Writer.TryWrite(followUp);
        }
        catch (OperationCanceledException)
        {
            // Shutting down: the card keeps its last state until the draft changes again.
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Card of {DraftId} now shows {State}")]
    private partial void LogFollowedUp(string draftId, string state);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not update the card of {DraftId} (attempt {Attempt}); trying again in {DelaySeconds} s: {Reason}")]
    private partial void LogFollowUpRetry(string draftId, int attempt, double delaySeconds, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not update the card of {DraftId} after {Attempt} attempt(s); it shows an older state until the draft changes again")]
    private partial void LogFollowUpGaveUp(Exception ex, string draftId, int attempt);
}
