using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalBot.Client;
using ApprovalBot.Drafts;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Pipe.Operations;

/// <summary>
/// <c>cancel</c>: the agent withdraws a draft it no longer wants executed (the thread it answered was deleted, a better
/// draft replaced it). Allowed while nothing has run and nothing will without someone's say: awaiting a decision
/// (pending, carded), approved but not running yet (also between attempts), or failed (a human's Retry would run it
/// again). The move is a compare-and-set through the store's single writer, so against the executor's or a pull
/// claim's approved -> executing, and an approver's tap, whichever commits first holds. Refused (<c>conflict</c>, naming
/// the state) once a run is under way or done, the approver closed the draft (rejected, discarded), it expired, or it
/// waits for a human who must look at it (blocked by the handoff check, outcome unknown); also an approved or failed draft
/// whose last attempt may have taken effect (read from the ledger), which only a run under its idempotency key can record.
/// A repeat for a draft this op already cancelled answers as the first time did and writes nothing, so an agent that lost
/// the answer can simply ask again.
/// </summary>
internal sealed partial class CancelOperation(DraftStore store, ILogger<CancelOperation> logger) : IPipeOperation
{
    /// <summary>The ledger event of a withdrawal.</summary>
    public const string EventType = "cancelled";

    /// <summary>Who withdraws, in the ledger: a request on the agent pipe (any agent of the service's OS user may send it).</summary>
    public const string Actor = "pipe";

    /// <summary>The states a draft may be withdrawn from.</summary>
    public static readonly IReadOnlyList<DraftState> Cancellable = [DraftState.Pending, DraftState.Carded, DraftState.Approved, DraftState.Failed];

    public string Name => Ops.Cancel;

    public async Task<Response> HandleAsync(JsonElement request, CancellationToken cancellationToken)
    {
        var cancel = StrictRequest.Read(request, ProtocolJsonContext.Default.CancelRequest);
        if (cancel.Reason is { } reason)
        {
            CheckReason(reason);
        }
        var outcome = await store.WriteAsync(ctx => Cancel(ctx, cancel.Id, cancel.Reason)).ConfigureAwait(false);
        switch (outcome.Kind)
        {
            case OutcomeKind.NotFound:
                throw GetOperation.NotFound(cancel.Id);
            case OutcomeKind.Refused:
                LogRefused(outcome.Draft!.Id, outcome.Draft.State.ToWire());
                throw Refusal(outcome.Draft);
            case OutcomeKind.CutOff:
                LogRefused(outcome.Draft!.Id, outcome.Draft.State.ToWire() + " after an attempt that may have taken effect");
                throw CutOffRefusal(outcome.Draft, outcome.CutOffBy!);
            case OutcomeKind.Cancelled:
                var d = outcome.Draft!;
                LogCancelled(d.Id, d.Seq, d.Kind, outcome.From!.Value.ToWire(), d.CancelReason ?? "(no reason given)");
                break;
            default:
                LogRepeated(outcome.Draft!.Id);
                break;
        }
        return new Response { Ok = true, Draft = outcome.Draft!.ToView() };
    }

    private static void CheckReason(string reason)
    {
        if (string.IsNullOrWhiteSpace(reason))
        {
            throw new ProtocolException(ErrorCodes.Invalid, DraftTextRules.Empty + " (leave reason out to give none)", "reason");
        }
        if (reason.Length > ProtocolJson.MaxReasonLength)
        {
            throw new ProtocolException(ErrorCodes.Invalid,
                $"must be at most {ProtocolJson.MaxReasonLength.ToString(CultureInfo.InvariantCulture)} characters (UTF-16 code units; got {reason.Length.ToString(CultureInfo.InvariantCulture)})", "reason");
        }
        // One line on the approver's card: a line break could make the rest look like a line of the card's own.
        if (DraftTextRules.LineProblem(reason, "reason") is { } problem)
        {
            throw new ProtocolException(ErrorCodes.Invalid, problem, "reason");
        }
    }

    private static Outcome Cancel(WriteContext ctx, string id, string? reason)
    {
        var current = ctx.ReadDraft(id);
        if (current is null)
        {
            return new Outcome(OutcomeKind.NotFound, null, null);
        }
        if (current.WithdrawnByAgent)
        {
            return new Outcome(OutcomeKind.Repeated, current, null);
        }
        if (!Cancellable.Contains(current.State))
        {
            return new Outcome(OutcomeKind.Refused, current, null);
        }
        // Approved again after a pull lease expired, a run was cut off, or an attempt failed without a definite answer on a
        // route that dedupes (or failed once those used up its attempts): that attempt may have taken effect, and only
        // running it again under the same idempotency key lets the sink or the pull agent record it; withdrawn, its late
        // outcome would be refused and the effect never recorded. Read whatever the draft's attempt count says: an approver's
        // Retry counts attempts from zero again, yet the next run is under the same key as the one that may have taken effect.
        // A pending or carded draft was never approved, so it has no attempt to read.
        if (current.State is DraftState.Approved or DraftState.Failed && LastAttemptCutOff(ctx, id) is { } cutOff)
        {
            return new Outcome(OutcomeKind.CutOff, current, null) { CutOffBy = cutOff };
        }
        var details = new JsonObject { ["by"] = Draft.CancelledByAgent };
        if (reason is not null)
        {
            details["reason"] = reason;
        }
        var result = DraftStore.Apply(ctx, new Transition(id, [.. Cancellable], DraftState.Cancelled, EventType, Actor)
        {
            Set = new Dictionary<string, object?> { ["cancelled_by"] = Draft.CancelledByAgent, ["cancel_reason"] = reason },
            Details = details,
        });
        // Read and moved in the same write, so it applies; were it not, the draft as it is now tells why.
        return result.Applied
            ? new Outcome(OutcomeKind.Cancelled, result.Draft, current.State)
            : new Outcome(OutcomeKind.Refused, result.Draft ?? current, null);
    }

    // The latest of the ledger events an attempt begins and ends with (AttemptEvents.LastAttempt) tells how the draft's
    // last attempt went. Of those, the ones that leave its effect unknown: a pull lease that expired, a push run cut off, a
    // restore that kept the approval; and a failed attempt whose details say it may have taken effect (timed out, killed,
    // redirected, a webhook's 5xx other than 503, or cut off after the request went out, or a pull executor's fail said so, on a route that dedupes: one
    // that does not makes the draft unknown instead). A begin that a stop undid before anything started is no attempt.

    /// <summary>What <see cref="LastAttemptCutOff"/> answers for such a pull <c>fail</c>, to tell it apart in the refusal.</summary>
    private const string PullFailed = "execution_failed by a pull executor";

    /// <summary>How the draft's last attempt ended if it may have taken effect (its ledger event's type); else null.</summary>
    private static string? LastAttemptCutOff(WriteContext ctx, string id) => AttemptEvents.LastAttempt(ctx, id) switch
    {
        // It made the draft unknown, and only an approver who checked the target sends an unknown draft back (Retry).
        { Type: AttemptEvents.LeaseExpired or AttemptEvents.ExecutionInterrupted } e when AttemptEvents.SaysLeftUnknown(e.Details) => null,
        { Type: AttemptEvents.LeaseExpired or AttemptEvents.ExecutionInterrupted or AttemptEvents.RestoreKept } e => e.Type,
        { Type: AttemptEvents.ExecutionFailed } e when AttemptEvents.SaysMayHaveTakenEffect(e.Details) =>
            e.Actor.StartsWith(AttemptEvents.PullActorPrefix, StringComparison.Ordinal) ? PullFailed : e.Type,
        _ => null,
    };

    private static ProtocolException CutOffRefusal(Draft d, string cutOffBy)
    {
        var how = cutOffBy switch
        {
            AttemptEvents.LeaseExpired => "its pull lease expired without complete or fail",
            AttemptEvents.ExecutionInterrupted => "its run was cut off (the service stopped while it ran)",
            PullFailed => "its pull executor's fail said it may have taken effect",
            AttemptEvents.RestoreKept => "the store was restored from a backup, and it may have run after the backup was taken",
            _ => "it failed without a definite answer: timed out, killed, redirected, answered with a server error other than 503, or cut off after the request went out",
        };
        return new ProtocolException(ErrorCodes.Conflict,
            $"draft '{GetOperation.Shown(d.Id)}' is {d.State.ToWire()}: its last attempt may have taken effect ({how}); it cannot be withdrawn, so that a run under " +
            "the same idempotency key can still record it; nothing changed", "id");
    }


    private static ProtocolException Refusal(Draft d)
    {
        var why = d.State switch
        {
            DraftState.Executing => "its execution is under way and cannot be withdrawn; wait with until final for its outcome",
            DraftState.Executed => "it has been executed",
            DraftState.Rejected => "the approver rejected it; nothing will execute it",
            DraftState.Expired => "it expired without a decision; nothing will execute it",
            DraftState.Cancelled => "the approver discarded it; nothing will execute it",
            DraftState.Blocked => "its handoff check failed; nothing will execute it, and the approver looks into it",
            DraftState.Unknown => "the outcome of its execution is not known (it may have taken effect); the approver checks and decides",
            _ => "it cannot be withdrawn in this state",
        };
        return new ProtocolException(ErrorCodes.Conflict, $"draft '{GetOperation.Shown(d.Id)}' is {d.State.ToWire()}: {why}; nothing changed", "id");
    }

    private enum OutcomeKind
    {
        NotFound,
        Cancelled,
        Repeated,
        Refused,
        CutOff,
    }

    /// <param name="From">For a withdrawal made now: the state it was withdrawn from.</param>
    private sealed record Outcome(OutcomeKind Kind, Draft? Draft, DraftState? From)
    {
        /// <summary>For <see cref="OutcomeKind.CutOff"/>: the ledger event that ended the last attempt.</summary>
        public string? CutOffBy { get; init; }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Cancelled {DraftId} seq {Seq} kind {Kind} (was {State}): withdrawn by its agent over the pipe: {Reason}")]
    private partial void LogCancelled(string draftId, long seq, string kind, string state, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Cancel of {DraftId} repeated: its agent withdrew it already; nothing changed")]
    private partial void LogRepeated(string draftId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Refused to cancel {DraftId}: it is {State}; nothing changed")]
    private partial void LogRefused(string draftId, string state);
}
