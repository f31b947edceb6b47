using System.Security.Cryptography;
using System.Text.Json.Nodes;
using ApprovalBot.Drafts;
using ApprovalBot.Execution.Routes;

namespace ApprovalBot.Execution;

/// <summary>What <see cref="ExecutionLedger.Begin"/> found: started (with the verified request), blocked, or nothing to do.</summary>
internal sealed record BeginResult(ExecutionRequest? Started, string? Lease, DateTimeOffset LeaseUntil, Draft? Blocked, HandoffProblem? Problem)
{
    /// <summary>The draft as made failed instead of run: it had used every attempt its route allows now.</summary>
    public Draft? Exhausted { get; init; }

    /// <summary>
    /// The draft as made unknown instead of run: its last attempt may have taken effect, and its route does not dedupe now
    /// (it did when that attempt ended, or the attempt ran on another route).
    /// </summary>
    public Draft? Unsettled { get; init; }

    /// <summary>Why <see cref="Unsettled"/> was made unknown: its route no longer dedupes, or the kind moved to a route of another type.</summary>
    public string? UnsettledReason { get; init; }
}

/// <summary>What <see cref="ExecutionLedger.Finish"/> did, or that the lease was no longer the caller's.</summary>
internal sealed record FinishResult(bool LeaseLost, Draft? Draft);

/// <summary>
/// The execution transitions, each one a compare-and-set with its ledger event in one write. Shared by the
/// push executor and the pull ops, so both record attempts, keys and outcomes the same way. The events' names are the
/// ledger's (<see cref="AttemptEvents"/>), which the pipe's cancel and the reconciler read back.
/// </summary>
internal static class ExecutionLedger
{
    /// <summary>
    /// A draft waiting for its retry was made failed instead of run: it had used as many attempts as its route allows now
    /// (MaxAttempts lowered meanwhile). Not an attempt's outcome, so not <c>execution_failed</c>: the pipe's cancel reads
    /// the last attempt's own event to tell whether it may have taken effect.
    /// </summary>
    public const string AttemptsExhausted = "attempts_exhausted";

    /// <summary>What an unknown draft's <c>exec_error</c> ends with, after the error or reason that left it unknown.</summary>
    public const string UnknownNote = "; it may or may not have taken effect";

    /// <summary>Why an approved draft is made unknown rather than run (<see cref="BeginResult.Unsettled"/>).</summary>
    public const string RouteNoLongerDedupes =
        "its last attempt may have taken effect and was left to a rerun under the same key, but its route does not dedupe now";

    /// <summary>The start of the reason when a draft left to a rerun on one route would be run on another (<see cref="BeginResult.Unsettled"/>).</summary>
    public const string RouteMovedSinceLeftToRerun = "its last attempt may have taken effect and was left to a rerun under the same key, but ";

    /// <summary>
    /// approved -> executing under a fresh lease, after the handoff check; approved -> blocked when it fails; approved ->
    /// failed when the draft has no attempt left under the route as configured now.
    /// </summary>
    public static BeginResult Begin(WriteContext ctx, string id, string actor, ExecutorRouteOptions route, TimeSpan lease, string stage)
    {
        var d = ctx.ReadDraft(id);
        // Not before its retry time, whoever asks: a run queued just before the last attempt failed must wait too.
        if (d is null || d.State != DraftState.Approved || (d.ExecNextAt is { } next && next > ctx.Now))
        {
            return NothingToDo;
        }
        if (NotRun(ctx, d, actor, route, stage) is { } notRun)
        {
            return notRun;
        }
        var key = IdempotencyKey.For(d.Id, d.DecisionSha256!);
        var attempt = d.ExecAttempts + 1;
        var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var until = ctx.Now + lease;
        var started = DraftStore.Apply(ctx, new Transition(id, [DraftState.Approved], DraftState.Executing, AttemptEvents.ExecutionStarted, actor)
        {
            Set = new Dictionary<string, object?>
            {
                ["exec_attempts"] = attempt, ["exec_key"] = key, ["lease_token"] = token, ["lease_until"] = until, ["exec_next_at"] = null,
            },
            Details = new JsonObject
            {
                ["attempt"] = attempt, ["max_attempts"] = route.MaxAttempts, ["idempotency_key"] = key,
                ["route"] = RouteName(route), ["lease_until"] = until.ToString("O"),
            },
        });
        return started.Applied ? new BeginResult(new ExecutionRequest(started.Draft!, d.Text!, attempt, key), token, until, null, null) : NothingToDo;
    }

    /// <summary>
    /// An approved draft that has made as many attempts as its route allows now (MaxAttempts lowered since, while it waited
    /// for its retry), or whose last attempt may have taken effect on a route that does not dedupe now (Idempotent turned
    /// off, or the kind moved to another route, since), ends now rather than at its retry time: approved -> failed or
    /// unknown, or approved -> blocked when its handoff check fails, as <see cref="Begin"/> would end it then. Any other
    /// draft: nothing to do.
    /// </summary>
    public static BeginResult EndExhausted(WriteContext ctx, string id, string actor, ExecutorRouteOptions route, string stage)
    {
        var d = ctx.ReadDraft(id);
        // Only what NotRun would end: a draft with an attempt whose route does not dedupe now, or whose last attempt ran on a
        // route of another type (judged as NotRun judges it, by that attempt's route), besides one out of attempts.
        return d is { State: DraftState.Approved }
            && (d.ExecAttempts >= route.MaxAttempts || (d.ExecAttempts > 0 && (!route.Idempotent || RanElsewhere(ctx, d, route, out _) is not null)))
            ? NotRun(ctx, d, actor, route, stage) ?? NothingToDo
            : NothingToDo;
    }

    private static readonly BeginResult NothingToDo = new(null, null, default, null, null);

    /// <summary>A route's type as the ledger's events name it: command, webhook or pull.</summary>
    public static string RouteName(ExecutorRouteOptions route) => route.RouteType.ToString().ToLowerInvariant();

    /// <summary>
    /// executing -> approved for a begin the service's stop overtook before the route was started or sent to: nothing ran,
    /// so the attempt is not counted, and the draft runs at the next start as if it had not begun. Only under its lease.
    /// </summary>
    public static Draft? NotStarted(WriteContext ctx, string id, string lease, string reason)
    {
        var d = ctx.ReadDraft(id);
        if (d is null || d.State != DraftState.Executing || !string.Equals(d.LeaseToken, lease, StringComparison.Ordinal))
        {
            return null;
        }
        var applied = DraftStore.Apply(ctx, new Transition(id, [DraftState.Executing], DraftState.Approved, AttemptEvents.ExecutionNotStarted, "executor")
        {
            Set = new Dictionary<string, object?>
            {
                ["exec_attempts"] = d.ExecAttempts - 1, ["lease_token"] = null, ["lease_until"] = null, ["exec_next_at"] = null,
            },
            Details = new JsonObject { ["attempt"] = d.ExecAttempts, ["idempotency_key"] = d.ExecKey, ["reason"] = reason },
        });
        return applied.Applied ? applied.Draft : null;
    }

    /// <summary>
    /// Blocks an approved draft whose handoff check fails, makes one unknown whose last attempt may have taken effect on a
    /// route that does not dedupe now, or fails one with no attempt left; null for one that may run.
    /// </summary>
    private static BeginResult? NotRun(WriteContext ctx, Draft d, string actor, ExecutorRouteOptions route, string stage)
    {
        if (HandoffCheck.Verify(d) is { } problem)
        {
            var blocked = DraftStore.Apply(ctx, new Transition(d.Id, [DraftState.Approved], DraftState.Blocked, "handoff_blocked", actor)
            {
                // The reason on the draft itself: the card and the reconciler show it without reading the ledger.
                Set = new Dictionary<string, object?> { ["exec_error"] = HandoffCheck.Reason(d, problem), ["exec_next_at"] = null },
                Details = HandoffCheck.Details(d, problem, stage),
            });
            return new BeginResult(null, null, default, blocked.Applied ? d : null, blocked.Applied ? problem : null);
        }
        var elsewhere = RanElsewhere(ctx, d, route, out var last);
        if ((!route.Idempotent || elsewhere is not null) && AttemptEvents.LeftItsEffectUnknown(last))
        {
            // It was left for a rerun under its key while its route deduped: never a blind second run on one that does not,
            // nor on another route, whose key may not reach what it did (as Finish and Recover judge). A human checks the
            // target, then marks it done or retries. The reason names the move when there was one.
            var reason = elsewhere is not null ? RouteMovedSinceLeftToRerun + elsewhere : RouteNoLongerDedupes;
            var unknown = DraftStore.Apply(ctx, new Transition(d.Id, [DraftState.Approved], DraftState.Unknown, AttemptEvents.ExecutionUnknown, actor)
            {
                Set = new Dictionary<string, object?> { ["exec_error"] = reason + UnknownNote, ["exec_next_at"] = null },
                Details = new JsonObject
                {
                    ["attempt"] = d.ExecAttempts, ["idempotency_key"] = d.ExecKey, ["route"] = RouteName(route),
                    ["reason"] = reason, ["action"] = AttemptEvents.LeftUnknown,
                },
            });
            return NothingToDo with { Unsettled = unknown.Applied ? unknown.Draft : null, UnsettledReason = reason };
        }
        if (d.ExecAttempts < route.MaxAttempts)
        {
            return null;
        }
        // Its attempts were counted against the MaxAttempts of the time, since lowered: the last one it was allowed has
        // run, so it ends as that attempt would have under the new limit, for the approver to Retry or Discard.
        var note = $"not retried: {d.ExecAttempts} attempt(s) made, and its route allows {route.MaxAttempts} now";
        var failed = DraftStore.Apply(ctx, new Transition(d.Id, [DraftState.Approved], DraftState.Failed, AttemptsExhausted, actor)
        {
            Set = new Dictionary<string, object?> { ["exec_error"] = d.ExecError is null ? note : d.ExecError + "; " + note, ["exec_next_at"] = null },
            Details = new JsonObject
            {
                ["attempt"] = d.ExecAttempts, ["max_attempts"] = route.MaxAttempts, ["idempotency_key"] = d.ExecKey,
                ["route"] = RouteName(route), ["final"] = true,
            },
        });
        return NothingToDo with { Exhausted = failed.Applied ? failed.Draft : null };
    }

    /// <summary>
    /// Why the draft's last attempt (<paramref name="last"/>) ran on a route of another type than <paramref name="route"/>, or
    /// null: the recovery's and the restore's events name that route, a failure's start does. A restore's "no route" is no type.
    /// </summary>
    private static string? RanElsewhere(WriteContext ctx, Draft d, ExecutorRouteOptions route, out LedgerEvent? last)
    {
        last = AttemptEvents.LastAttempt(ctx, d.Id);
        var ranOn = last is null ? null : AttemptEvents.RouteOf(last.Details) ?? StartedOn(ctx, d.Id);
        return ranOn is not null && ranOn != AttemptEvents.NoRoute && ranOn != RouteName(route) ? OtherRoute(ranOn, route) : null;
    }

    /// <summary>The route an attempt was started on, as its <c>execution_started</c> event names it; null when none does.</summary>
    public static string? StartedOn(WriteContext ctx, string id) =>
        AttemptEvents.RouteOf(DraftStore.LastEventOf(ctx, id, AttemptEvents.ExecutionStarted)?.Details);

    /// <summary>
    /// Why a rerun under the same key on <paramref name="route"/> cannot settle the draft's current attempt: it was started on
    /// another type of route (its <c>execution_started</c> says which), where the key <paramref name="route"/> dedupes by may not
    /// reach what it did. Null when it was started on a route of this type, or its start names none (an older build's).
    /// </summary>
    public static string? StartedElsewhere(WriteContext ctx, string id, ExecutorRouteOptions route) =>
        StartedOn(ctx, id) is { } startedOn && startedOn != RouteName(route) ? OtherRoute(startedOn, route) : null;

    private static string OtherRoute(string ranOn, ExecutorRouteOptions route) =>
        $"it was started on a {ranOn} route, and its kind's route is {RouteName(route)} now, " +
        (route.Idempotent ? "whose idempotency key may not reach what it did" : "which does not dedupe");

    /// <summary>
    /// executing -> executed, or a failed attempt: approved again with a backoff while attempts remain and the
    /// failure is retryable, else failed (a human decides); an attempt that may have taken effect (cut off mid-run, or
    /// so said by a pull executor's fail) on a route that does not dedupe becomes unknown. Only the holder of <paramref name="lease"/> may finish,
    /// while the draft is still executing under it: a pull lease past its time still counts until recovery has taken the
    /// draft (which changes the token), so an agent's late but real outcome is kept rather than dropped and run again.
    /// </summary>
    public static FinishResult Finish(WriteContext ctx, string id, string lease, AttemptOutcome outcome,
        ExecutorRouteOptions route, ExecutionOptions options, string actor)
    {
        var d = ctx.ReadDraft(id);
        if (d is null)
        {
            return new FinishResult(true, null);
        }
        if (d.State != DraftState.Executing || !string.Equals(d.LeaseToken, lease, StringComparison.Ordinal))
        {
            return new FinishResult(true, d);
        }
        var details = new JsonObject { ["attempt"] = d.ExecAttempts, ["idempotency_key"] = d.ExecKey };
        var elsewhere = outcome.MayHaveTakenEffect && route.Idempotent ? StartedElsewhere(ctx, id, route) : null;
        Transition transition;
        if (outcome.Succeeded)
        {
            details["result"] = outcome.Result;
            transition = new Transition(id, [DraftState.Executing], DraftState.Executed, AttemptEvents.Executed, actor)
            {
                Set = new Dictionary<string, object?>
                {
                    ["exec_result"] = outcome.Result, ["exec_error"] = null, ["exec_at"] = ctx.Now, ["lease_token"] = null, ["lease_until"] = null,
                },
                Details = details,
            };
        }
        else if (outcome.MayHaveTakenEffect && (!route.Idempotent || elsewhere is not null))
        {
            // Never a blind second run (nor a second claim): a human checks the sink, then marks it done or retries. Judged,
            // as Recover judges, by the route the attempt was started on: a pull claim outstanding while the operator moved
            // the kind to a deduping command route took effect where that route's key may not reach.
            details["error"] = outcome.Error;
            if (elsewhere is not null)
            {
                details["reason"] = elsewhere;
            }
            transition = new Transition(id, [DraftState.Executing], DraftState.Unknown, AttemptEvents.ExecutionUnknown, actor)
            {
                Set = new Dictionary<string, object?>
                {
                    ["exec_error"] = outcome.Error + (elsewhere is null ? "" : "; " + elsewhere) + UnknownNote, ["exec_at"] = ctx.Now, ["exec_next_at"] = null,
                    ["lease_token"] = null, ["lease_until"] = null,
                },
                Details = details,
            };
        }
        else
        {
            details["error"] = outcome.Error;
            details["retryable"] = outcome.Retryable;
            // An attempt that may have taken effect gets here only on a route that dedupes: a retry under the same key is
            // safe for the sink, but the draft must not be withdrawn meanwhile, or its effect could never be recorded.
            details[AttemptEvents.MayHaveTakenEffect] = outcome.MayHaveTakenEffect;
            var retry = outcome.Retryable && d.ExecAttempts < route.MaxAttempts;
            DateTimeOffset? next = retry ? ctx.Now + options.Backoff(d.ExecAttempts) : null;
            details["retry_at"] = next?.ToString("O");
            details["final"] = !retry;
            transition = new Transition(id, [DraftState.Executing], retry ? DraftState.Approved : DraftState.Failed, AttemptEvents.ExecutionFailed, actor)
            {
                Set = new Dictionary<string, object?>
                {
                    ["exec_error"] = outcome.Error, ["exec_at"] = ctx.Now, ["exec_next_at"] = next, ["lease_token"] = null, ["lease_until"] = null,
                },
                Details = details,
            };
        }
        var applied = DraftStore.Apply(ctx, transition);
        return new FinishResult(!applied.Applied, applied.Draft);
    }

    /// <summary>
    /// executing -> unknown for an attempt that ended but whose outcome the store refused to record, twice, not for being
    /// away: <paramref name="reason"/> says what the outcome was. Unknown whatever the route: the route ran, so a rerun
    /// would repeat a known outcome, and one the store refuses again. Only under its lease.
    /// </summary>
    public static Draft? OutcomeNotRecorded(WriteContext ctx, string id, string lease, ExecutorRouteOptions route, string reason) =>
        Recover(ctx, id, lease, null, reason, AttemptEvents.ExecutionUnknown, RouteName(route));

    /// <summary>
    /// An execution whose holder is gone (expired pull lease, or a process that died mid-run). On a route that dedupes
    /// it goes back to the queue with the same key; on any other, pull or push, it becomes unknown, because running it
    /// again (or handing it out again) could post twice: a pull agent may have posted and died before its complete. Only
    /// on the route it was started on (<paramref name="startedOn"/>, from its <c>execution_started</c>; null when that does
    /// not say): run on another, its effect is where the key the route dedupes by now may not reach.
    /// </summary>
    public static Draft? Recover(WriteContext ctx, string id, string? expectedLease, ExecutorRouteOptions? route, string reason, string eventType,
        string? startedOn = null)
    {
        var d = ctx.ReadDraft(id);
        if (d is null || d.State != DraftState.Executing || !string.Equals(d.LeaseToken, expectedLease, StringComparison.Ordinal))
        {
            return null;
        }
        var requeue = route is not null && route.Idempotent && (startedOn is null || startedOn == RouteName(route));
        var exhausted = route is not null && d.ExecAttempts >= route.MaxAttempts;
        var to = !requeue ? DraftState.Unknown : exhausted ? DraftState.Failed : DraftState.Approved;
        var action = to switch { DraftState.Approved => "requeued", DraftState.Failed => "failed", _ => AttemptEvents.LeftUnknown };
        var applied = DraftStore.Apply(ctx, new Transition(id, [DraftState.Executing], to, eventType, "executor")
        {
            Set = new Dictionary<string, object?>
            {
                ["lease_token"] = null, ["lease_until"] = null, ["exec_next_at"] = null,
                ["exec_error"] = reason + (to == DraftState.Unknown ? UnknownNote : ""),
            },
            Details = new JsonObject
            {
                ["attempt"] = d.ExecAttempts, ["idempotency_key"] = d.ExecKey, ["lease_until"] = d.LeaseUntil?.ToString("O"),
                ["route"] = startedOn ?? (route is null ? null : RouteName(route)), ["reason"] = reason, ["action"] = action,
            },
        });
        return applied.Applied ? applied.Draft : null;
    }
}
