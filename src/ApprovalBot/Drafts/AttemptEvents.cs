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

    /// <summary>A pull executor's lease ran out without complete or fail (reported by the reconciler as an orphan).</summary>
    public const string LeaseExpired = "lease_expired";

    /// <summary>A push attempt cut off by a shutdown or a crash (the draft is requeued, or unknown for a human).</summary>
    public const string ExecutionInterrupted = "execution_interrupted";

    /// <summary>A restore made an approval on a route that does not dedupe unknown: it may have run after the backup.</summary>
    public const string RestoreUnsettled = "restore_unsettled";

    /// <summary>A restore's mark on an approval it kept on a route that dedupes or a pull route: it may have run after the backup.</summary>
    public const string RestoreKept = "restore_kept";

    /// <summary>The actor of a pull executor's claim, complete and fail in the ledger: this, then the kind.</summary>
    public const string PullActorPrefix = "pull:";

    /// <summary>
    /// In an <c>execution_failed</c> event's details: whether the attempt may have taken effect at the sink (a command that
    /// timed out or was killed, a webhook request that went out and got no answer, a reset or a redirect, a pull executor's
    /// <c>fail</c> with <c>may_have_taken_effect</c>) rather than failed for certain (a non-zero exit, a refused connection, an
    /// HTTP error status, a pull executor's plain <c>fail</c>). The pipe's cancel refuses to withdraw a draft whose last
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
    public static string? RouteOf(string? details) =>
        Field(details, "route") is { ValueKind: JsonValueKind.String } route ? route.GetString() : null;

    /// <summary>
    /// In the details of an attempt its holder left behind (<c>lease_expired</c>, <c>execution_interrupted</c>): what became of
    /// the draft. <c>unknown</c> on a route that does not dedupe, which an approver settles; <c>requeued</c> or <c>failed</c> else.
    /// </summary>
    public const string LeftUnknown = "unknown";

    /// <summary>Whether a recovered attempt's event says the draft became unknown (<see cref="LeftUnknown"/>).</summary>
    public static bool SaysLeftUnknown(string? details) =>
        Field(details, "action") is { ValueKind: JsonValueKind.String } action && action.GetString() == LeftUnknown;

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
