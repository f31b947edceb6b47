using ApprovalBot.Drafts;
using ApprovalBot.Execution;
using Microsoft.Extensions.Logging;
using Quartz;

namespace ApprovalBot.Reconciliation;

/// <summary>
/// The Quartz shell around one <see cref="Reconciler"/> cycle; the store is the only state, so a cycle is an
/// idempotent sweep, and a failed one is logged here and left to the next rather than thrown at Quartz.
/// </summary>
[DisallowConcurrentExecution]
internal sealed partial class ReconcileJob(Reconciler reconciler, ReconcileRequests requests, ILogger<ReconcileJob> logger) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        requests.Beginning();
        try
        {
            await reconciler.RunOnceAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (StoreUnavailableException ex)
        {
            LogStoreUnavailable(ex.Message);
        }
        catch (Exception ex)
        {
            LogCycleFailed(ex);
        }
    }

    // No stack trace: the writer already logged the cause once, and a long outage would otherwise repeat it every cycle.
    [LoggerMessage(Level = LogLevel.Warning, Message = "Reconcile cycle skipped: {Reason}; the next cycle retries")]
    private partial void LogStoreUnavailable(string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Reconcile cycle failed; the next cycle retries")]
    private partial void LogCycleFailed(Exception ex);
}
