using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Api;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

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
/// (<see cref="CardRecords.UnconfirmedEvent"/>), as the outbox does; a tap on that copy decides, and the reconciler offers
/// Resend card. Drafts decided before get nothing: their outcome is in the store (<c>/status</c>), and an edit of their old card meets
/// no message of a new sandbox (its ids start above every card on record), which is recorded as <c>card_edit_refused</c>
/// like a card deleted by hand, or goes to the former chat, where a refusal of the bot ("chat not found" for the sandbox's
/// chat, 403 for a group the bot left) is recorded the same way (<see cref="CardSender.ShowLatestAsync"/>). A real bot
/// whose chat and bot did not change sends nothing again: a Telegram chat keeps its messages.
/// <para>
/// The approvers' chat refusing the bot (<see cref="ApiRequestException.IsChatRefused"/>: a new bot not yet added to the
/// group, the new chat blocking it) would refuse every card the same way: the pass stops sending at the first refusal,
/// logged once at Error, and those drafts wait on the chat, in memory. When Telegram says the bot may post there again
/// (<see cref="ChatReadmission"/>), the same sends run again for them only (<see cref="VanishedCardsOnReadmission"/>). A card
/// lost for another reason is left for the next start, and so is a switch of bots while any such card is left (<see cref="RecordedBot.SwitchDoneAsync"/>: done by whichever pass sends the last card).
/// </para>
/// </summary>
internal sealed partial class VanishedCards(
    VanishedCardResender resender, VanishedCardsOnReadmission onReadmission, TelegramChat chat, RecordedBot recordedBot, ILogger<VanishedCards> logger)
    : IHostedService, IDisposable
{
    private const int Page = 100;

    private readonly TaskCompletionSource<int> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private Task? _pass;

    /// <summary>How many cards the start's pass sent again, once every draft was looked at; for tests.</summary>
    public Task<int> Done => _done.Task;

    /// <summary>
    /// Starts the pass beside the other services. Not a <see cref="BackgroundService"/>: those are the host's loops, and
    /// one that ends while the service runs stops it (<see cref="Hosting.BackgroundLoops"/>), while this pass ends once done
    /// (once no card waits on the chat, or at the stop).
    /// </summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        onReadmission.Listen();
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
        var cards = new CardsOutOfReach(recordedBot.Switch, chat.FreshSandboxFirstMessageId);
        var resent = 0;
        try
        {
            resent = await ResendAllAsync(cards, stoppingToken).ConfigureAwait(false);
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
            cards.SwitchLeft = true;
        }
        _done.TrySetResult(resent);
        await onReadmission.RunAsync(cards, stoppingToken).ConfigureAwait(false);
    }

    private async Task<int> ResendAllAsync(CardsOutOfReach cards, CancellationToken stoppingToken)
    {
        var tally = new ResendTally();
        long after = 0;
        while (true)
        {
            var page = await ReadPageAsync(after, stoppingToken).ConfigureAwait(false);
            foreach (var (draft, reason) in resender.ReasonsToResend(page, cards))
            {
                if (reason is not null)
                {
                    await resender.ResendOneAsync(draft, reason, cards, tally, stoppingToken).ConfigureAwait(false);
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
        cards.SwitchLeft |= tally.Lost > 0;
        await resender.SwitchDoneIfLastAsync(cards).ConfigureAwait(false);
        return tally.Resent;
    }

    /// <summary>
    /// The next drafts awaiting a decision, in seq order: read from drafts_by_state, whose entries of a state are in seq
    /// order (every carded draft: a few thousand at most, however big the store).
    /// </summary>
    private Task<IReadOnlyList<Draft>> ReadPageAsync(long after, CancellationToken stoppingToken) =>
        resender.QueryAsync(DraftColumns.Select + " WHERE state = 'carded' AND seq > $after ORDER BY seq LIMIT $limit", stoppingToken, ("$after", after), ("$limit", Page));

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

    [LoggerMessage(Level = LogLevel.Error, Message = "Sending the cards out of the approvers' reach again failed unexpectedly; the drafts left have no card to tap until the next start")]
    private partial void LogPassFailed(Exception ex);
}
