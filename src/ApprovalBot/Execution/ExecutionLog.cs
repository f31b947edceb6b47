using ApprovalBot.Drafts;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Execution;

/// <summary>The execution feature's structured log lines; every one names the draft.</summary>
internal static partial class ExecutionLog
{
    public static void HandoffBlocked(this ILogger logger, Draft d, HandoffProblem problem, string stage) =>
        HandoffBlocked(logger, "handoff_blocked", d.Id, d.Kind, d.Agent, d.DecidedByName ?? d.DecidedBy?.ToString(System.Globalization.CultureInfo.InvariantCulture),
            d.DecidedAt, problem.Code, problem.Description, d.Sha256, d.DecisionSha256, d.Text is null ? null : DraftHash.Of(d.Text), stage);

    [LoggerMessage(EventId = 4001, Level = LogLevel.Error, EventName = "HandoffBlocked",
        Message = "{EventType}: draft {DraftId} ({Kind} from {Agent}, approved by {Approver} at {DecidedAt}) was NOT executed: {Problem} ({ProblemDescription}); stored {StoredSha256}, expected {ExpectedSha256}, actual {ActualSha256}; stage {Stage}")]
    private static partial void HandoffBlocked(ILogger logger, string eventType, string draftId, string kind, string agent, string? approver,
        DateTimeOffset? decidedAt, string problem, string problemDescription, string storedSha256, string? expectedSha256, string? actualSha256, string stage);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, EventName = "ExecutionStarted",
        Message = "Executing draft {DraftId} ({Kind}) via {Route}, attempt {Attempt}, key {IdempotencyKey}")]
    public static partial void ExecutionStarted(this ILogger logger, string draftId, string kind, string route, int attempt, string idempotencyKey);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Information, EventName = "Executed",
        Message = "Executed draft {DraftId} ({Kind}) on attempt {Attempt}: {Result}")]
    public static partial void Executed(this ILogger logger, string draftId, string kind, int attempt, string? result);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Warning, EventName = "ExecutionFailed",
        Message = "Execution of draft {DraftId} ({Kind}) failed on attempt {Attempt} (now {State}): {Error}")]
    public static partial void ExecutionFailed(this ILogger logger, string draftId, string kind, int attempt, string state, string? error);

    [LoggerMessage(EventId = 4016, Level = LogLevel.Warning, EventName = "AttemptsExhausted",
        Message = "Draft {DraftId} ({Kind}) was not run again: {Attempts} attempt(s) made, and its route allows {MaxAttempts} now " +
        "(MaxAttempts was lowered while it waited for its retry); it is failed, for the approver to Retry or Discard")]
    public static partial void AttemptsExhausted(this ILogger logger, string draftId, string kind, int attempts, int maxAttempts);

    [LoggerMessage(EventId = 4015, Level = LogLevel.Warning, EventName = "ApprovalUnsettledByRestore",
        Message = "Draft {DraftId} ({Kind}) is {RestoredState} in a store restored from a backup ({Attempts} attempt(s) on record), on a route that does not " +
        "dedupe: whether it ran after the backup is not known, so it is now unknown and not run. Check the sink, then Mark done or Retry")]
    public static partial void ApprovalUnsettledByRestore(this ILogger logger, string draftId, string kind, string restoredState, int attempts);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Warning, EventName = "ExecutionRecovered",
        Message = "Draft {DraftId} ({Kind}) was left executing ({Reason}); now {State} with key {IdempotencyKey}")]
    public static partial void ExecutionRecovered(this ILogger logger, string draftId, string kind, string reason, string state, string? idempotencyKey);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Warning, EventName = "LeaseLost",
        Message = "Draft {DraftId}: the outcome of attempt {Attempt} was not recorded because its lease was no longer held (state {State})")]
    public static partial void LeaseLost(this ILogger logger, string draftId, int attempt, string? state);

    [LoggerMessage(EventId = 4007, Level = LogLevel.Error, EventName = "ExecutorCycleFailed",
        Message = "Executor cycle failed; the next cycle retries")]
    public static partial void CycleFailed(this ILogger logger, Exception ex);

    // No stack trace: the writer already logged the cause once, and a long outage would otherwise repeat it every cycle.
    [LoggerMessage(EventId = 4011, Level = LogLevel.Warning, EventName = "ExecutorCycleStoreUnavailable",
        Message = "Executor cycle skipped: {Reason}; the next cycle retries")]
    public static partial void CycleStoreUnavailable(this ILogger logger, string reason);

    [LoggerMessage(EventId = 4012, Level = LogLevel.Error, EventName = "ExecutionOutcomeNotRecorded",
        Message = "Draft {DraftId} ({Kind}): attempt {Attempt} {Outcome} ({Detail}) but the store could not record it: {Reason}; it is recorded once the store takes writes again (should the service stop first, the draft becomes unknown)")]
    public static partial void OutcomeNotRecorded(this ILogger logger, string draftId, string kind, int attempt, string outcome, string? detail, string reason);

    [LoggerMessage(EventId = 4020, Level = LogLevel.Error, EventName = "ExecutionOutcomeGivenUp",
        Message = "Draft {DraftId} ({Kind}): attempt {Attempt} {Outcome} ({Detail}) but the store refused to record it again; {Action}")]
    public static partial void OutcomeGivenUp(this ILogger logger, Exception ex, string draftId, string kind, int attempt, string outcome, string? detail, string action);

    [LoggerMessage(EventId = 4013, Level = LogLevel.Error, EventName = "ExecutionRunFailed",
        Message = "The run of draft {DraftId} failed unexpectedly; the draft is left to the next cycles (recovery if it was left executing)")]
    public static partial void RunFailed(this ILogger logger, Exception ex, string draftId);

    [LoggerMessage(EventId = 4014, Level = LogLevel.Error, EventName = "ExecutionAttemptFailedUnexpectedly",
        Message = "Attempt {Attempt} of draft {DraftId} ({Kind}) ended with an unexpected error; recorded as cut off (it may have taken effect)")]
    public static partial void AttemptFailedUnexpectedly(this ILogger logger, Exception ex, string draftId, string kind, int attempt);

    [LoggerMessage(EventId = 4017, Level = LogLevel.Information, EventName = "ExecutionAttemptEnded",
        Message = "Attempt {Attempt} of draft {DraftId} ({Kind}, key {IdempotencyKey}) {Outcome}: {Detail}; recording it")]
    public static partial void AttemptEnded(this ILogger logger, string draftId, string kind, int attempt, string idempotencyKey, string outcome, string? detail);

    [LoggerMessage(EventId = 4018, Level = LogLevel.Information, EventName = "ExecutionAttemptNotStarted",
        Message = "Draft {DraftId} ({Kind}): attempt {Attempt} was not started, the service is stopping; it is approved again and runs after the next start")]
    public static partial void AttemptNotStarted(this ILogger logger, string draftId, string kind, int attempt);

    [LoggerMessage(EventId = 4019, Level = LogLevel.Warning, EventName = "ApprovalUnsettledByRouteChange",
        Message = "Draft {DraftId} ({Kind}) was not run again on its {Route} route ({Attempts} attempt(s) on record): {Reason}; it is unknown. " +
        "Check the sink, then Mark done or Retry")]
    public static partial void UnsettledByRouteChange(this ILogger logger, string draftId, string kind, int attempts, string route, string reason);

    [LoggerMessage(EventId = 4008, Level = LogLevel.Warning, EventName = "ExecutorWakeFailed",
        Message = "Could not wake the {Job} job; its interval trigger will pick the work up")]
    public static partial void WakeFailed(this ILogger logger, Exception ex, string job);

    [LoggerMessage(EventId = 4009, Level = LogLevel.Error, EventName = "CycleListenerFailed",
        Message = "Executor cycle listener {Listener} failed")]
    public static partial void ListenerFailed(this ILogger logger, Exception ex, string listener);
}
