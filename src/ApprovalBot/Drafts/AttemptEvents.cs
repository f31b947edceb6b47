using System.Text.Json;

namespace ApprovalBot.Drafts;

/// <summary>
/// The ledger's names for how an execution attempt begins and ends. The executor writes them (ExecutionLedger,
/// RestoredApprovals); the pipe's <c>cancel</c> and the reconciler read them back. They live with the ledger rather
/// than with the executor because the pipe may not reach into the executor (whose pull ops are pipe operations).
/// Stored in every store, so they never change.
/// </summary>
internal static class AttemptEvents
{
    /// <summary>approved -> executing: an attempt began (a push run, or a pull claim).</summary>
    public const string ExecutionStarted = "execution_started";

    /// <summary>executing -> executed: the attempt succeeded.</summary>
    public const string Executed = "executed";

    /// <summary>A failed attempt (approved again for its retry, or failed for a human).</summary>
    public const string ExecutionFailed = "execution_failed";

    /// <summary>
    /// An attempt cut off mid-run on a route that does not dedupe, or one its pull executor's <c>fail</c> said may have
    /// taken effect there: it may or may not have taken effect.
    /// </summary>
    public const string ExecutionUnknown = "execution_unknown";

    /// <summary>
    /// A pull executor's lease ran out without complete or fail: requeued on a route that dedupes (reported by the reconciler
    /// as an orphan), else unknown (its agent may have posted before it died).
    /// </summary>
    public const string LeaseExpired = "lease_expired";

    /// <summary>A push attempt cut off by a shutdown or a crash (the draft is requeued, or unknown for a human).</summary>
    public const string ExecutionInterrupted = "execution_interrupted";

    /// <summary>
    /// A begin the service's stop overtook: the draft went back to approved before its route was started or sent to, and
    /// the attempt was not counted. Its <see cref="ExecutionStarted"/> before it is no attempt either.
    /// </summary>
    public const string ExecutionNotStarted = "execution_not_started";

    /// <summary>A restore made an approval on a route that does not dedupe unknown: it may have run after the backup.</summary>
    public const string RestoreUnsettled = "restore_unsettled";

    /// <summary>A restore's mark on an approval it kept on a route that dedupes (push or pull): it may have run after the backup.</summary>
    public const string RestoreKept = "restore_kept";

    /// <summary>The actor of a pull executor's claim, complete and fail in the ledger: this, then the kind.</summary>
    public const string PullActorPrefix = "pull:";

    /// <summary>
    /// In an <c>execution_failed</c> event's details: whether the attempt may have taken effect at the sink (a command that
    /// timed out or was killed, a webhook request that went out and got no answer, a reset, a redirect or a 5xx other than
    /// 503, a pull executor's <c>fail</c> with <c>may_have_taken_effect</c>) rather than failed for certain (a non-zero exit, a
    /// refused connection, a 4xx or 503, a pull executor's plain <c>fail</c>). The pipe's cancel refuses to withdraw a draft whose last
    /// attempt may have: only a run under the same idempotency key can still record its effect. Events of builds before it
    /// have no such field, and are read as before (not set). A <c>restore_kept</c> event holds it too.
    /// </summary>
    public const string MayHaveTakenEffect = "may_have_taken_effect";

    /// <summary>
    /// Whether an event's details hold <c>may_have_taken_effect: true</c>. Older builds did not write it, and their
    /// failed attempts stay withdrawable as they were; so do details that are not JSON (a ledger edited by hand).
    /// </summary>
    public static bool SaysMayHaveTakenEffect(string? details) => Field(details, MayHaveTakenEffect) is { ValueKind: JsonValueKind.True };

    /// <summary>In a <c>restore_unsettled</c> event's details, the route of a kind that has none in this service's configuration.</summary>
    public const string NoRoute = "none";

    /// <summary>The <c>route</c> an attempt's event names (<c>command</c>, <c>webhook</c>, <c>pull</c>, or <see cref="NoRoute"/>), or null.</summary>
    public static string? RouteOf(string? details) => TextOf(details, "route");

    /// <summary>A text field of an event's details; null when absent, not text, or when the details are not a JSON object.</summary>
    public static string? TextOf(string? details, string name) =>
        Field(details, name) is { ValueKind: JsonValueKind.String } value ? value.GetString() : null;

    /// <summary>
    /// In the details of an attempt its holder left behind (<c>lease_expired</c>, <c>execution_interrupted</c>): what became of
    /// the draft. <c>unknown</c> on a route that does not dedupe, which an approver settles; <c>requeued</c> or <c>failed</c> else.
    /// </summary>
    public const string LeftUnknown = "unknown";

    /// <summary>Whether a recovered attempt's event says the draft became unknown (<see cref="LeftUnknown"/>).</summary>
    public static bool SaysLeftUnknown(string? details) =>
        TextOf(details, "action") == LeftUnknown;

    /// <summary>
    /// The events an attempt begins and ends with: the latest of them tells how the draft's last attempt went (see
    /// <see cref="LeftItsEffectUnknown"/>). <see cref="ExecutionNotStarted"/> is not one: a begin it undid was no attempt.
    /// <see cref="RestoreUnsettled"/> ends the copy's attempt as <see cref="ExecutionUnknown"/> does, and an approver's
    /// Retry of an unknown draft (<see cref="ApproverActions.RetryRequested"/> from unknown) settles it: the approver checked
    /// the target. A Retry of a failed draft settles nothing (<see cref="LastAttempt"/> passes over it).
    /// </summary>
    public static readonly string[] AttemptEnds =
    [
        ExecutionStarted, Executed, ExecutionFailed, ExecutionUnknown, LeaseExpired, ExecutionInterrupted, RestoreKept, RestoreUnsettled,
        ApproverActions.RetryRequested,
    ];

    /// <summary>
    /// The latest of the draft's <see cref="AttemptEnds"/>, passing over each begin a stop undid (an
    /// <see cref="ExecutionNotStarted"/> and the <see cref="ExecutionStarted"/> before it) and each Retry of a failed draft
    /// (its next run is under the same key as the attempt that failed, which may have taken effect); null when it has none.
    /// </summary>
    public static LedgerEvent? LastAttempt(WriteContext ctx, string draftId)
    {
        string[] withUndone = [.. AttemptEnds, ExecutionNotStarted];
        var last = DraftStore.LastEventOf(ctx, draftId, withUndone);
        while (true)
        {
            if (last is { Type: ExecutionNotStarted })
            {
                var undone = DraftStore.LastEventBefore(ctx, draftId, last.Id, ExecutionStarted);
                last = undone is null ? null : DraftStore.LastEventBefore(ctx, draftId, undone.Id, withUndone);
            }
            else if (last is { Type: ApproverActions.RetryRequested } && !IsRetryOfUnknown(last.Details))
            {
                last = DraftStore.LastEventBefore(ctx, draftId, last.Id, withUndone);
            }
            else
            {
                return last;
            }
        }
    }

    /// <summary>
    /// Whether a <see cref="ApproverActions.RetryRequested"/> sent an unknown draft back: only an approver who checked the
    /// target does. Details without <c>from</c> (a ledger edited by hand) are read as a Retry of a failed draft, the safe side.
    /// </summary>
    private static bool IsRetryOfUnknown(string? details) => TextOf(details, "from") == DraftState.Unknown.ToWire();

    /// <summary>
    /// Whether the latest of a draft's <see cref="AttemptEnds"/> left an attempt that may have taken effect with nobody having
    /// settled it: an expired pull lease or a cut-off run that requeued the draft (not one that made it unknown, which only an
    /// approver who checked the target sends back), a restore that kept the approval, or a failure that says
    /// <see cref="MayHaveTakenEffect"/>. Only a run under the same key on a route that dedupes may follow such an attempt.
    /// A restore that made the draft unknown, and an approver's Retry of an unknown draft, leave nothing unsettled.
    /// </summary>
    public static bool LeftItsEffectUnknown(LedgerEvent? last) => last switch
    {
        { Type: LeaseExpired or ExecutionInterrupted } e => !SaysLeftUnknown(e.Details),
        { Type: RestoreKept } => true,
        { Type: ExecutionFailed } e => SaysMayHaveTakenEffect(e.Details),
        _ => false,
    };

    /// <summary>One field of an event's details; null when absent, or when the details are not a JSON object (a ledger edited by hand).</summary>
    private static JsonElement? Field(string? details, string name)
    {
        if (details is null)
        {
            return null;
        }
        try
        {
            using var doc = JsonDocument.Parse(details);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty(name, out var value) ? value.Clone() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
