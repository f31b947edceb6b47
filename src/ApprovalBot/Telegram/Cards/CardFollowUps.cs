using System.Threading.Channels;
using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Api;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Telegram.Cards;

/// <summary>
/// Keeps a card telling the truth after the decision: when execution moves a draft on (executed, failed,
/// blocked, unknown, cancelled, expired, or back to approved for a retry), the card is edited to show it.
/// Decisions themselves are shown by the decision handler, in the order the issue asks for.
/// </summary>
internal sealed partial class CardFollowUps(DraftStore store, CardSender sender, ILogger<CardFollowUps> logger) : BackgroundService
{
    private readonly Channel<string> _changed = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });

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
                _changed.Writer.TryWrite(change.Id);
            }
        });
        try
        {
            await foreach (var id in _changed.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                await FollowUpAsync(id, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task FollowUpAsync(string id, CancellationToken stoppingToken)
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
            LogFollowUpFailed(ex, id);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Card of {DraftId} now shows {State}")]
    private partial void LogFollowedUp(string draftId, string state);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not update the card of {DraftId} with its outcome")]
    private partial void LogFollowUpFailed(Exception ex, string draftId);
}
