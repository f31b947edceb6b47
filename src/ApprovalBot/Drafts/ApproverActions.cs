using System.Text.Json.Nodes;

namespace ApprovalBot.Drafts;

/// <summary>
/// What an approver may do to a draft that automation gave up on. Each is a compare-and-set transition, so
/// a second tap of the same button finds the draft already moved and changes nothing.
/// </summary>
/// <remarks>
/// Each takes the approver's request as the ledger is to keep it (<c>callback</c>: for a button, the raw callback, as a
/// decision keeps it), put into its event's details beside the action; null: none.
/// </remarks>
internal sealed class ApproverActions(DraftStore store)
{
    /// <summary>The ledger event of a Retry that sent a failed or unknown draft back to be executed.</summary>
    public const string RetryRequested = "retry_requested";

    /// <summary>
    /// failed/unknown -> approved: the executor picks it up again with the same idempotency key. A pending draft whose
    /// card the outbox gave up on (e.g. a wrong chat id, since fixed) gets its card queued again instead. With
    /// <paramref name="stateSince"/>, only while the draft is still in the state it entered then (see <see cref="SameEpisode"/>).
    /// </summary>
    public Task<TransitionResult> RetryAsync(string id, string actor, DateTimeOffset? stateSince = null, JsonObject? callback = null) =>
        store.WriteAsync(ctx =>
        {
            var current = ctx.ReadDraft(id);
            if (!SameEpisode(current, stateSince))
            {
                return new TransitionResult(false, current);
            }
            if (current is { State: DraftState.Pending, CardError: not null, CardNextAt: null })
            {
                var requeued = DraftStore.Apply(ctx, new Transition(id, [DraftState.Pending], DraftState.Pending, "card_retry_requested", actor)
                {
                    Set = new Dictionary<string, object?> { ["card_attempts"] = 0, ["card_error"] = null, ["card_next_at"] = ctx.Now },
                    Details = With(new JsonObject { ["action"] = "retry", ["card_error"] = current.CardError, ["card_attempts"] = current.CardAttempts }, callback),
                });
                if (requeued.Applied)
                {
                    // The state does not move, so nothing else would wake the outbox before its next sweep.
                    ctx.Publish(new DraftChange(id, current.Kind, DraftState.Pending, DraftState.Pending));
                }
                return requeued;
            }
            return DraftStore.Apply(ctx, new Transition(id, [DraftState.Failed, DraftState.Unknown], DraftState.Approved, RetryRequested, actor)
            {
                Set = new Dictionary<string, object?> { ["exec_attempts"] = 0, ["exec_next_at"] = null, ["lease_token"] = null, ["lease_until"] = null },
                Details = With(new JsonObject { ["action"] = "retry" }, callback),
            });
        });

    /// <summary>failed/unknown/blocked/approved -> cancelled: nothing will be executed; pending (a card never delivered) -> cancelled too.</summary>
    public Task<TransitionResult> DiscardAsync(string id, string actor, JsonObject? callback = null) =>
        store.TransitionAsync(new Transition(id, [DraftState.Failed, DraftState.Unknown, DraftState.Blocked, DraftState.Approved, DraftState.Pending], DraftState.Cancelled, "discarded", actor)
        {
            Details = With(new JsonObject { ["action"] = "discard" }, callback),
        });

    /// <summary>
    /// unknown -> executed: the approver (<paramref name="byUserId"/>, <paramref name="byName"/>) checked the sink and the
    /// effect is there; who did is kept on the draft, so its view says a person settled it, not a run.
    /// <paramref name="stateSince"/> as for <see cref="RetryAsync"/>.
    /// </summary>
    public Task<TransitionResult> MarkDoneAsync(string id, string actor, long byUserId, string? byName, DateTimeOffset? stateSince = null, JsonObject? callback = null) =>
        store.WriteAsync(ctx => SameEpisode(ctx.ReadDraft(id), stateSince)
            ? DraftStore.Apply(ctx, new Transition(id, [DraftState.Unknown], DraftState.Executed, "marked_done", actor)
            {
                Set = new Dictionary<string, object?> { ["marked_done_by"] = byUserId, ["marked_done_by_name"] = byName },
                Details = With(new JsonObject { ["action"] = "mark_done" }, callback),
            })
            : new TransitionResult(false, ctx.ReadDraft(id)));

    /// <summary>A copy of the callback: a node has one parent, and a write may run its delegate again.</summary>
    private static JsonObject With(JsonObject details, JsonObject? callback)
    {
        if (callback is not null)
        {
            details["callback"] = callback.DeepClone();
        }
        return details;
    }

    /// <summary>
    /// Whether <paramref name="current"/> is still in the state it entered at <paramref name="stateSince"/> (always, without
    /// one). An action answers the outcome the approver was shown: once a Retry ran the draft again and it failed or came
    /// out unknown again, a tap on the same message (delivered twice, or a second approver's) must not retry or close an
    /// outcome nobody has seen; running it again could post twice.
    /// </summary>
    public static bool SameEpisode(Draft? current, DateTimeOffset? stateSince) =>
        current is not null && (stateSince is not { } since || current.StateSince.ToUnixTimeMilliseconds() == since.ToUnixTimeMilliseconds());
}
