namespace ApprovalBot.Execution;

/// <summary>What one executor cycle did; <see cref="NextDueAt"/> is the earliest pending retry, if any.</summary>
internal sealed record ExecutorCycleResult(int Recovered, int Started, int Executed, int Failed, int Blocked, DateTimeOffset? NextDueAt);

/// <summary>
/// Runs after every executor cycle (Quartz-fired or <see cref="ExecutorCycle.RunOnceAsync"/>). Register with
/// <c>services.AddSingleton&lt;IExecutorCycleListener, T&gt;()</c>. The reconciler hooks in here, so it looks for
/// gaps right after the executor has moved drafts on. Must not throw for ordinary failures; a throw is logged.
/// </summary>
internal interface IExecutorCycleListener
{
    Task AfterCycleAsync(ExecutorCycleResult result, CancellationToken cancellationToken);
}
