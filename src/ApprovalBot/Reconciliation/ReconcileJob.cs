using Quartz;

namespace ApprovalBot.Reconciliation;

/// <summary>The Quartz shell around one <see cref="Reconciler"/> cycle; the store is the only state, so a cycle is an idempotent sweep.</summary>
[DisallowConcurrentExecution]
internal sealed class ReconcileJob(Reconciler reconciler) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken) =>
        await reconciler.RunOnceAsync(cancellationToken).ConfigureAwait(false);
}
