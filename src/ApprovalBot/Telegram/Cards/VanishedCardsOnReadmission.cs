using System.Text.Json.Nodes;
using System.Threading.Channels;
using ApprovalBot.Drafts;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Telegram.Cards;

/// <summary>
/// The passes that send the cards out of the approvers' reach which the chat refused at start (<see cref="VanishedCards"/>):
/// when Telegram says the bot may post there again (<see cref="ChatReadmission"/>), the same sends run again for those drafts
/// only (each looked at afresh: one decided or given a card meanwhile needs none), after the start's pass and never beside
/// it; a burst of readmissions is one pass, and a refusal again waits for the next. Ends once no draft waits on the chat.
/// </summary>
internal sealed partial class VanishedCardsOnReadmission(
    VanishedCardResender resender, TelegramChat chat, ChatReadmission readmission, ILogger<VanishedCardsOnReadmission> logger)
{
    private readonly Channel<bool> _readmitted = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    /// <summary>Listens for readmissions from now on: one that comes while the start's pass runs is one pass after it.</summary>
    public void Listen() =>
        // Runs on the update poller: it only leaves word for the pass. One that came before a refusal costs one try.
        readmission.Subscribe(() => _readmitted.Writer.TryWrite(true));

    /// <summary>
    /// While drafts wait on the chat (<paramref name="cards"/>, as the start's pass left them): at each word from Telegram that
    /// the bot may post there again, their cards are sent, until none waits. Readmissions that come while a pass runs are one
    /// more pass after it.
    /// </summary>
    public async Task RunAsync(CardsOutOfReach cards, CancellationToken stoppingToken)
    {
        try
        {
            while (cards.WaitingOnChat.Count > 0)
            {
                await _readmitted.Reader.ReadAsync(stoppingToken).ConfigureAwait(false);
                try
                {
                    await ResendWaitingAsync(cards, stoppingToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    // The drafts not sent keep waiting: the next readmission, or the next start, takes them up.
                    LogReadmissionPassFailed(ex, cards.WaitingOnChat.Count);
                    cards.SwitchLeft = true;
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopped: the drafts still waiting on the chat are looked at again at the next start.
        }
    }

    private async Task ResendWaitingAsync(CardsOutOfReach cards, CancellationToken stoppingToken)
    {
        var drafts = await ReadWaitingAsync(cards, stoppingToken).ConfigureAwait(false);
        // Decided (or withdrawn, expired) meanwhile: their outcome is in the store, and no card is needed.
        cards.WaitingOnChat.IntersectWith(drafts.Select(d => d.Id));
        var tally = new ResendTally();
        foreach (var (draft, reason) in resender.ReasonsToResend(drafts, cards))
        {
            if (reason is not null)
            {
                await resender.ResendOneAsync(draft, reason, cards, tally, stoppingToken).ConfigureAwait(false);
            }
            else
            {
                // Given a card in reach meanwhile (/card, Resend card).
                cards.WaitingOnChat.Remove(draft.Id);
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
        cards.SwitchLeft |= tally.Lost > 0;
        await resender.SwitchDoneIfLastAsync(cards).ConfigureAwait(false);
    }

    /// <summary>
    /// The drafts waiting on the chat that still await a decision, in seq order (a few thousand at most: those the chat
    /// refused at start).
    /// </summary>
    private Task<IReadOnlyList<Draft>> ReadWaitingAsync(CardsOutOfReach cards, CancellationToken stoppingToken) =>
        resender.QueryAsync(DraftColumns.Select + " WHERE state = 'carded' AND id IN (SELECT value FROM json_each($ids)) ORDER BY seq", stoppingToken,
            ("$ids", new JsonArray([.. cards.WaitingOnChat.Select(id => JsonValue.Create(id))]).ToJsonString()));

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
}
