using System.Text.Json.Nodes;
using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Api;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Telegram.Cards;

/// <summary>
/// Sends the card of one draft out of the approvers' reach again, for the start's pass (<see cref="VanishedCards"/>) and the
/// passes at readmission (<see cref="VanishedCardsOnReadmission"/>), and counts the outcome in the pass's
/// <see cref="ResendTally"/> and <see cref="CardsOutOfReach"/>.
/// </summary>
internal sealed partial class VanishedCardResender(
    DraftStore store, CardSender sender, CardRecords records, CardFollowUps followUps, TelegramChat chat, RecordedBot recordedBot,
    IOptions<TelegramOptions> options, TimeProvider time, ILogger<VanishedCardResender> logger)
{
    private readonly TelegramOptions _options = options.Value;

    /// <summary>
    /// Each of <paramref name="drafts"/> with why its card is out of the approvers' reach, or null when it is not: in another
    /// chat than theirs, posted by another bot, or (with the built-in sandbox) sent before this start. Cards sent by this run
    /// are in the approvers' chat, recorded after any switch of bots and, with the sandbox, have ids from
    /// <see cref="CardsOutOfReach.First"/> on, so no pass sends one of them again. A draft with no message on record (sent
    /// unconfirmed) is sent again only when its chat or its bot changed: an unconfirmed copy in this run's chat, by this run's
    /// bot, is still there to tap. Which cards the former bot posted is one read for all the drafts, while a switch is open.
    /// </summary>
    public IReadOnlyList<(Draft Draft, string? Reason)> ReasonsToResend(IReadOnlyList<Draft> drafts, CardsOutOfReach cards)
    {
        var formerBots = cards.Change is { } change && drafts.Count > 0
            ? recordedBot.CardsRecordedBefore([.. drafts.Select(d => d.Id)], change)
            : null;
        return [.. drafts.Select(draft => (draft, ReasonToResend(draft, cards, formerBots)))];
    }

    private string? ReasonToResend(Draft draft, CardsOutOfReach cards, IReadOnlySet<string>? formerBots) => draft switch
    {
        { CardChatId: { } cardChat } when !chat.IsApproversChat(cardChat) => CardSender.ChatChangedReason,
        _ when formerBots is not null && formerBots.Contains(draft.Id) => CardSender.BotChangedReason,
        { CardMessageId: { } message } when message < cards.First => CardSender.SandboxRestartedReason,
        _ => null,
    };

    /// <summary>
    /// Sends the card of <paramref name="draft"/> again and counts the outcome; after the chat refused the bot in this pass,
    /// only puts it with the drafts waiting on the chat, since it would be refused the same way.
    /// </summary>
    public async Task ResendOneAsync(Draft draft, string reason, CardsOutOfReach cards, ResendTally tally, CancellationToken stoppingToken)
    {
        if (tally.Refusal is null)
        {
            var outcome = await ResendAsync(draft, reason, stoppingToken).ConfigureAwait(false);
            switch (outcome.Kind)
            {
                case Resent.Sent:
                    tally.Resent++;
                    break;
                case Resent.Unconfirmed:
                    tally.Unconfirmed++;
                    break;
                case Resent.Lost:
                    tally.Lost++;
                    break;
                default:
                    tally.Refusal = (outcome.Refusal!, draft.Id);
                    break;
            }
            if (tally.Refusal is null)
            {
                cards.WaitingOnChat.Remove(draft.Id);
                return;
            }
        }
        tally.Refused++;
        cards.WaitingOnChat.Add(draft.Id);
    }

    /// <summary>Every card of the former bot awaiting a decision went out: the switch is done, as at a start.</summary>
    public async Task SwitchDoneIfLastAsync(CardsOutOfReach cards)
    {
        if (cards.Change is { } change && !cards.SwitchLeft && cards.WaitingOnChat.Count == 0)
        {
            // An unconfirmed card was recorded after the switch's boundary; a card left unsent keeps the switch for the next start.
            await recordedBot.SwitchDoneAsync(change).ConfigureAwait(false);
            cards.Change = null;
        }
    }

    /// <summary>Reads drafts, waiting out a store that is away with the card backoff (the pass has nothing else to do meanwhile).</summary>
    public async Task<IReadOnlyList<Draft>> QueryAsync(string sql, CancellationToken stoppingToken, params (string Name, object? Value)[] parameters)
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
        var recorded = await records.RecordUnconfirmedAsync(draft, reason, ex, new JsonObject { ["attempt"] = attempt }).ConfigureAwait(false);
        LogResendUnconfirmed(draft.Id, reason, chat.ChatId, ex.Method, ex.Description, recorded);
        return new Outcome(Resent.Unconfirmed);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Card of {DraftId} sent again as message {MessageId}: its card (message {OldMessageId}) went with the " +
        "built-in sandbox of an earlier run; recorded as its card: {Recorded}")]
    private partial void LogCardResent(string draftId, long? oldMessageId, long messageId, bool recorded);

    [LoggerMessage(Level = LogLevel.Information, Message = "Card of {DraftId} sent again as message {MessageId} in chat {ChatId}: its card (message {OldMessageId} " +
        "in chat {OldChatId}) is out of the approvers' reach ({Reason}: chat_changed, a chat that is no longer theirs; bot_changed, posted by another bot " +
        "than this run's); recorded as its card: {Recorded}")]
    private partial void LogCardMovedToChat(string draftId, long? oldMessageId, long? oldChatId, long messageId, long chatId, string reason, bool recorded);

    [LoggerMessage(Level = LogLevel.Warning, EventName = "VanishedCardOutcomeUnknown",
        Message = "The card of {DraftId} sent again ({Reason}) is most likely in chat {ChatId}, but Telegram's answer to {Method} could not be read ({Description}); " +
        "not sent again (another try would post another copy), recorded as sent unconfirmed, with no message on record: {Recorded}. A tap on it decides once; " +
        "/orphans lists it (card_unconfirmed) with Resend card, as /card <id> does")]
    private partial void LogResendUnconfirmed(string draftId, string reason, long chatId, string method, string description, bool recorded);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not send the card of {DraftId} again (attempt {Attempt}); trying again in {DelaySeconds} s: {Reason}")]
    private partial void LogResendRetry(string draftId, int attempt, double delaySeconds, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not send the card of {DraftId} again after {Attempt} attempt(s); it has no card to tap until the next start (or /card <id>)")]
    private partial void LogResendGaveUp(Exception ex, string draftId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read which drafts' cards are out of the approvers' reach; trying again in {DelaySeconds} s")]
    private partial void LogReadFailed(Exception ex, double delaySeconds);
}
