using ApprovalBot.Drafts;

namespace ApprovalBot.Execution;

/// <summary>What one executor cycle did; <see cref="NextDueAt"/> is the earliest pending retry, if any.</summary>
internal sealed record ExecutorCycleResult(int Recovered, int Started, int Executed, int Failed, int Blocked, DateTimeOffset? NextDueAt)
{
    /// <summary>Counted from the states the runs left their drafts in (null: nothing began); a failed attempt awaiting its retry is approved.</summary>
    public static ExecutorCycleResult Of(int recovered, IReadOnlyCollection<DraftState?> outcomes, DateTimeOffset? nextDueAt) => new(
        recovered,
        outcomes.Count(o => o is not null and not DraftState.Blocked),
        outcomes.Count(o => o == DraftState.Executed),
        outcomes.Count(o => o is DraftState.Failed or DraftState.Approved),
        outcomes.Count(o => o == DraftState.Blocked),
        nextDueAt);
}

/// <summary>
/// Runs after every executor cycle (Quartz-fired or <see cref="ExecutorCycle.RunOnceAsync"/>). Register with
/// <c>services.AddSingleton&lt;IExecutorCycleListener, T&gt;()</c>. The reconciler hooks in here, so it looks for
/// gaps right after the executor has moved drafts on. Must not throw for ordinary failures; a throw is logged.
/// </summary>
internal interface IExecutorCycleListener
{
    Task AfterCycleAsync(ExecutorCycleResult result, CancellationToken cancellationToken);
}
