using ApprovalBot.Drafts;
using ApprovalBot.Reconciliation;
using ApprovalBot.Telegram.Api;
using ApprovalBot.Telegram.Cards;
using ApprovalBot.Telegram.Updates;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Telegram.Escalations;

/// <summary>
/// Retry / Discard / Mark done / Resend card on an escalation message. Bound to the draft's seq and text hash like a
/// decision; the action itself is a compare-and-set in <see cref="ApproverActions"/>, so a second press finds
/// the draft already moved and is answered with where it is now. Resend card moves no state: <see cref="CardResender"/>
/// sends a card only while the draft awaits a decision.
/// </summary>
internal sealed partial class EscalationActionHandler(
    DraftStore store, ApproverActions actions, CardResender resender, CallbackReplies replies, OrphanCallbacks orphans, ILogger<EscalationActionHandler> logger)
{
    public async Task HandleAsync(CallbackQuery query, CallbackData data, CancellationToken cancellationToken)
    {
        if (data.Action == CallbackAction.Dismiss)
        {
            await DismissAsync(query, data, cancellationToken).ConfigureAwait(false);
            return;
        }
        var draft = store.GetBySeq(data.Seq);
        if (draft is null || !data.Matches(draft.Sha256))
        {
            await orphans.RecordAsync(query, draft?.Id, draft is null ? "unknown_draft" : "hash_mismatch").ConfigureAwait(false);
            await replies.AnswerAsync(query, OrphanCallbacks.Answer, alert: true, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (data.Action == CallbackAction.ResendCard)
        {
            var resent = await resender.ResendAsync(draft, new ResendRequest(query.From, QueryId: query.Id), cancellationToken).ConfigureAwait(false);
            LogAction(draft.Id, data.Action.ToString(), resent.Result is ResendResult.Sent or ResendResult.SentNotRecorded or ResendResult.Requeued,
                resent.Draft.State.ToWire(), query.From.Id);
            await replies.AnswerAsync(query, resent.Answer("below"), alert: resent.Alert, cancellationToken).ConfigureAwait(false);
            return;
        }
        var actor = CallbackRouter.Actor(query);
        var since = data.StateSinceMs is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : (DateTimeOffset?)null;
        var callback = CallbackRouter.Describe(query, data);
        var result = data.Action switch
        {
            CallbackAction.Retry => await actions.RetryAsync(draft.Id, actor, since, callback).ConfigureAwait(false),
            CallbackAction.Discard => await actions.DiscardAsync(draft.Id, actor, callback).ConfigureAwait(false),
            CallbackAction.MarkDone => await actions.MarkDoneAsync(draft.Id, actor, query.From.Id, query.From.DisplayName, since, callback).ConfigureAwait(false),
            _ => throw new ArgumentOutOfRangeException(nameof(data), data.Action, "not an escalation action"),
        };
        var now = result.Draft ?? draft;
        var state = now.State.ToWire();
        LogAction(draft.Id, data.Action.ToString(), result.Applied, state, query.From.Id);
        var answer = result.Applied
            ? data.Action switch
            {
                CallbackAction.Retry => $"🔁 Retry requested for {draft.Id}.",
                CallbackAction.Discard => $"🗑 Discarded {draft.Id}.",
                _ => $"✔️ Marked {draft.Id} as done.",
            }
            : !ApproverActions.SameEpisode(now, since)
                ? $"Nothing changed: {draft.Id} is {state} now, since {CardRenderer.FormatTime(now.StateSince)}: a later outcome than this message reports."
                    // Only a draft still waiting for a human has a later escalation to act on (an executed one has none).
                    + (DraftStateMachine.AwaitsHuman(now.State) ? " Act on its latest escalation." : "")
                : $"Nothing changed: {draft.Id} is {state} now.";
        await replies.AnswerAsync(query, answer, alert: false, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Dismiss names a ledger event (a stray tap), not a draft: bound to the event id, closed by a ledger event of its own.</summary>
    private async Task DismissAsync(CallbackQuery query, CallbackData data, CancellationToken cancellationToken)
    {
        if (!data.Matches(GapDismissals.Binding(data.Seq)))
        {
            await orphans.RecordAsync(query, null, "bad_dismiss").ConfigureAwait(false);
            await replies.AnswerAsync(query, OrphanCallbacks.Answer, alert: true, cancellationToken).ConfigureAwait(false);
            return;
        }
        // Stateless over the store: no dependency on the reconciler being composed.
        var applied = await new GapDismissals(store).DismissAsync(data.Seq, CallbackRouter.Actor(query)).ConfigureAwait(false);
        LogDismiss(data.Seq, applied, query.From.Id);
        var answer = applied ? "✔️ Dismissed; it will not be reminded again." : "Nothing changed: already dismissed or no such gap.";
        await replies.AnswerAsync(query, answer, alert: false, cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Stray-tap gap of event {EventId} dismissed by {UserId}: applied {Applied}")]
    private partial void LogDismiss(long eventId, bool applied, long userId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Escalation action {Action} on {DraftId} by {UserId}: applied {Applied}, state {State}")]
    private partial void LogAction(string draftId, string action, bool applied, string state, long userId);
}
