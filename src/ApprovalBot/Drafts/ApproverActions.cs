using System.Text.Json.Nodes;

namespace ApprovalBot.Drafts;

/// <summary>
/// What an approver may do to a draft that automation gave up on. Each is a compare-and-set transition, so
/// a second tap of the same button finds the draft already moved and changes nothing.
/// </summary>
internal sealed class ApproverActions(DraftStore store)
{
    /// <summary>failed/unknown -> approved: the executor picks it up again with the same idempotency key.</summary>
    public Task<TransitionResult> RetryAsync(string id, string actor, CancellationToken cancellationToken = default) =>
        store.TransitionAsync(new Transition(id, [DraftState.Failed, DraftState.Unknown], DraftState.Approved, "retry_requested", actor)
        {
            Set = new Dictionary<string, object?> { ["exec_attempts"] = 0, ["exec_next_at"] = null, ["lease_token"] = null, ["lease_until"] = null },
            Details = new JsonObject { ["action"] = "retry" },
        }, cancellationToken);

    /// <summary>failed/unknown/blocked/approved -> cancelled: nothing will be executed.</summary>
    public Task<TransitionResult> DiscardAsync(string id, string actor, CancellationToken cancellationToken = default) =>
        store.TransitionAsync(new Transition(id, [DraftState.Failed, DraftState.Unknown, DraftState.Blocked, DraftState.Approved], DraftState.Cancelled, "discarded", actor)
        {
            Details = new JsonObject { ["action"] = "discard" },
        }, cancellationToken);

    /// <summary>unknown -> executed: the approver checked the sink and the effect is there.</summary>
    public Task<TransitionResult> MarkDoneAsync(string id, string actor, CancellationToken cancellationToken = default) =>
        store.TransitionAsync(new Transition(id, [DraftState.Unknown], DraftState.Executed, "marked_done", actor)
        {
            Details = new JsonObject { ["action"] = "mark_done" },
        }, cancellationToken);
}
