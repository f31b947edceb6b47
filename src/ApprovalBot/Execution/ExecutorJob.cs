using ApprovalBot.Drafts;
using Microsoft.Extensions.Logging;
using Quartz;

namespace ApprovalBot.Execution;

/// <summary>
/// The Quartz shell around <see cref="ExecutorCycle"/>: fired on each approval commit, on an interval, and when a
/// run ends with drafts waiting for its slot. It starts the due runs and returns; they end on their own.
/// A failed cycle is logged and left to the next one; the store is the only state, so nothing is lost.
/// </summary>
[DisallowConcurrentExecution]
internal sealed class ExecutorJob(ExecutorCycle cycle, ExecutorWakeup wakeup, ILogger<ExecutorJob> logger) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        wakeup.CycleStarting();
        try
        {
            await cycle.StartCycleAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Shutdown: interrupted attempts were recorded by the cycle.
        }
        catch (StoreUnavailableException ex)
        {
            logger.CycleStoreUnavailable(ex.Message);
        }
        catch (Exception ex)
        {
            logger.CycleFailed(ex);
        }
    }
}
