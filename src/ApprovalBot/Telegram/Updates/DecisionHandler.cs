using System.Text.Json.Nodes;
using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Api;
using ApprovalBot.Telegram.Cards;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Telegram.Updates;

/// <summary>
/// Owner of the decision. A tap is first stored (the transition, the raw callback and the hash it was bound
/// to, in one transaction), then answered, then shown on the card; so the approver never sees "Approved"
/// for a decision that was not stored. A tap on a decided draft, or the same update delivered again, is
/// answered with the stored decision and changes nothing. An edit that fails (Telegram down longer than the
/// client's own resends, or a 429, never waited out here) is handed to <see cref="CardFollowUps"/>, which tries it again with backoff, and after a
/// restart finds the card still behind its draft in the store. Approve of a text missing from the store, or not the one its
/// hash was taken of, is refused and recorded as an orphan callback (<see cref="ApprovableText"/>); Reject is not.
/// </summary>
internal sealed partial class DecisionHandler(
    DraftStore store, CallbackReplies replies, OrphanCallbacks orphans, CardSender cards, CardFollowUps followUps, TelegramChat chat,
    TimeProvider time, ILogger<DecisionHandler> logger)
{
    public const string DecidedEvent = "decided";

    public async Task HandleAsync(CallbackQuery query, CallbackData data, CancellationToken cancellationToken)
    {
        var approve = data.Action == CallbackAction.Approve;
        var outcome = await store.WriteAsync(ctx => Decide(ctx, query, data, approve)).ConfigureAwait(false);
        switch (outcome.Kind)
        {
            case OutcomeKind.Orphan:
                orphans.Log(outcome.Recorded, outcome.Draft?.Id, outcome.Reason!, query);
                await replies.AnswerAsync(query, OrphanCallbacks.Answer, alert: true, cancellationToken).ConfigureAwait(false);
                return;
            case OutcomeKind.Unapprovable:
                orphans.Log(outcome.Recorded, outcome.Draft!.Id, outcome.Reason!, query);
                await replies.AnswerAsync(query, ApprovableText.Refusal(outcome.Draft, outcome.Reason!), alert: true, cancellationToken).ConfigureAwait(false);
                break; // the card is shown again, without its Approve button
            case OutcomeKind.Decided:
                LogDecided(outcome.Draft!.Id, outcome.Draft.Decision!, query.From.Id, query.From.DisplayName, outcome.Draft.Sha256);
                await replies.AnswerAsync(query, approve ? "✅ Approved" : "❌ Rejected", alert: false, cancellationToken).ConfigureAwait(false);
                break;
            default:
                LogAlreadyDecided(outcome.Draft!.Id, outcome.Draft.State.ToWire(), query.From.Id);
                await replies.AnswerAsync(query, Current(outcome.Draft), alert: false, cancellationToken).ConfigureAwait(false);
                break;
        }
        await ShowOnCardsAsync(outcome.Draft!, query, cancellationToken).ConfigureAwait(false);
    }

    private Outcome Decide(WriteContext ctx, CallbackQuery query, CallbackData data, bool approve)
    {
        var draft = ReadBySeq(ctx, data.Seq);
        if (draft is null)
        {
            return new Outcome(OutcomeKind.Orphan, null, "unknown_draft", OrphanCallbacks.Record(ctx, query, null, "unknown_draft"));
        }
        if (!data.Matches(draft.Sha256))
        {
            return new Outcome(OutcomeKind.Orphan, draft, "hash_mismatch", OrphanCallbacks.Record(ctx, query, draft.Id, "hash_mismatch"));
        }
        if (!DraftStateMachine.AwaitsDecision(draft.State))
        {
            return new Outcome(OutcomeKind.AlreadyDecided, draft, null);
        }
        // Checked here, in the write: the decision binds draft.Sha256, which must be the hash of the text it stores now.
        if (approve && ApprovableText.Problem(draft) is { } problem)
        {
            return new Outcome(OutcomeKind.Unapprovable, draft, problem, OrphanCallbacks.Record(ctx, query, draft.Id, problem));
        }
        var decision = approve ? "approved" : "rejected";
        var callback = CallbackRouter.Describe(query, data);
        callback["received_at"] = time.GetUtcNow().ToString("O");
        var set = new Dictionary<string, object?>
        {
            ["decision"] = decision,
            ["decided_by"] = query.From.Id,
            ["decided_by_name"] = query.From.DisplayName,
            ["decided_at"] = ctx.Now,
            ["decision_sha256"] = draft.Sha256,
        };
        // Tapped before the outbox recorded the card (or on a card whose send looked failed): the tapped message
        // becomes the card, so the outcome is shown where the approver decided. It still shows the buttons it was sent
        // with: recorded so, a stop before the edit below leaves it behind its draft, and the next start edits it.
        if (draft.CardMessageId is null && (TappedCard(query) ?? TappedOldCard(query)) is { } tapped)
        {
            set["card_chat_id"] = tapped.Chat.Id;
            set["card_message_id"] = tapped.MessageId;
            set["card_shown_state"] = DraftState.Pending.ToWire();
            // Why it had none (an unreadable answer to its send: card_unconfirmed, card_failed) no longer holds.
            set["card_error"] = null;
        }
        var result = DraftStore.Apply(ctx, new Transition(draft.Id, [DraftState.Pending, DraftState.Carded],
            approve ? DraftState.Approved : DraftState.Rejected, DecidedEvent, CallbackRouter.Actor(query))
        {
            Set = set,
            Details = new JsonObject { ["decision"] = decision, ["sha256"] = draft.Sha256, ["callback"] = callback },
        });
        return new Outcome(result.Applied ? OutcomeKind.Decided : OutcomeKind.AlreadyDecided, result.Draft ?? draft, null);
    }

    private async Task ShowOnCardsAsync(Draft draft, CallbackQuery query, CancellationToken cancellationToken)
    {
        // The tapped message, and the stored card if that is another message (a card sent twice after a lost answer).
        var targets = new List<(long ChatId, long MessageId)>();
        if (TappedCard(query) is { } tapped)
        {
            targets.Add((tapped.Chat.Id, tapped.MessageId));
        }
        if (draft.CardChatId is { } cardChat && draft.CardMessageId is { } cardMessage && !targets.Contains((cardChat, cardMessage)))
        {
            targets.Add((cardChat, cardMessage));
        }
        // Run by the update poller: a 429 is not waited out here but handed to the follow-ups with its retry_after, so the
        // taps behind this one are answered while their callback may still be answered.
        using var noWait = TelegramBotClient.ThrowOn429();
        foreach (var (chatId, messageId) in targets)
        {
            try
            {
                await cards.ShowLatestAsync(draft.Id, chatId, messageId, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ApiRequestException or StoreUnavailableException)
            {
                // A refusal for good was said by the sender, naming the card; "could not be edited yet" would contradict it.
                if (!CardSender.IsRefusalRecorded(ex))
                {
                    LogCardEditFailed(ex, draft.Id, messageId);
                }
                followUps.RetryEdit(draft.Id, chatId, messageId, ex);
            }
        }
    }

    /// <summary>The tapped message, if it really carries this button: forged data must not make the bot rewrite another message.</summary>
    private static Message? TappedCard(CallbackQuery query) =>
        query.Message is { } tapped && tapped.ReplyMarkup?.InlineKeyboard.Any(row => row.Any(b => b.CallbackData == query.Data)) == true ? tapped : null;

    /// <summary>
    /// A tapped message Telegram no longer shows the bot (an InaccessibleMessage: date 0, only chat and message_id; it
    /// sends that for buttons on old messages), in the approvers' chat. Its buttons cannot be checked, so it is taken as
    /// the card only where nothing else is: by <see cref="Decide"/>, for a draft with no card on record (a card sent
    /// unconfirmed), once the data has matched that draft's seq and hash; the outcome is then shown where the approver decided.
    /// </summary>
    private Message? TappedOldCard(CallbackQuery query) =>
        query.Message is { Date: 0 } old && chat.IsApproversChat(old.Chat.Id) ? old : null;

    private static string Current(Draft d) => d.State switch
    {
        _ when d.Decision is not null =>
            $"Already {CardRenderer.DecidedBy(d)}" + (d.WithdrawnByAgent ? ", then withdrawn by the agent." : $" (now {d.State.ToWire()})."),
        _ when d.WithdrawnByAgent =>
            $"Nothing to decide: the agent withdrew this draft at {CardRenderer.FormatTime(d.StateSince)}" + (d.CancelReason is { } reason ? ": " + reason : "."),
        DraftState.Expired => $"Nothing to decide: this draft expired at {CardRenderer.FormatTime(d.StateSince)} without a decision.",
        _ => $"Nothing to decide: this draft is {d.State.ToWire()}.",
    };

    private static Draft? ReadBySeq(WriteContext ctx, long seq)
    {
        using var cmd = ctx.Command(DraftColumns.Select + " WHERE seq = $seq", ("$seq", seq));
        using var reader = cmd.ExecuteReader();
        return reader.Read() ? DraftColumns.Read(reader) : null;
    }

    private enum OutcomeKind
    {
        Decided,
        AlreadyDecided,
        Orphan,

        /// <summary>Approve refused: the draft's text is missing or not the one its hash was taken of (<see cref="ApprovableText"/>).</summary>
        Unapprovable,
    }

    /// <param name="Recorded">For an orphan or an unapprovable text: recorded by this delivery of the update (false when it was delivered before).</param>
    private sealed record Outcome(OutcomeKind Kind, Draft? Draft, string? Reason, bool Recorded = false);

    [LoggerMessage(Level = LogLevel.Information, Message = "Draft {DraftId} {Decision} by {UserId} ({UserName}), bound to sha256 {Sha256}")]
    private partial void LogDecided(string draftId, string decision, long userId, string userName, string sha256);

    [LoggerMessage(Level = LogLevel.Information, Message = "Tap on {DraftId} by {UserId} changed nothing: the draft is {State}")]
    private partial void LogAlreadyDecided(string draftId, string state, long userId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Decision on {DraftId} is stored but card message {MessageId} could not be edited yet")]
    private partial void LogCardEditFailed(Exception ex, string draftId, long messageId);
}
