using ApprovalBot.Drafts;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Reconciliation;

/// <summary>
/// Runs the cycle the <see cref="Reconciler"/> held, as soon as the decisions made while the service was down are in
/// (<see cref="IMissedDecisions"/>): drafts that came due meanwhile would otherwise wait for the next interval (60 s by
/// default) to expire, still open to a decision. Only when a cycle was held: a backlog fetched before the start's first
/// cycle needs none.
/// </summary>
internal sealed partial class ReconcileWhenDecisionsTakenIn(
    IMissedDecisions missed, Reconciler reconciler, ILogger<ReconcileWhenDecisionsTakenIn> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (missed is NoMissedDecisions)
        {
            return;
        }
        try
        {
            await missed.WhenTakenIn.WaitAsync(stoppingToken).ConfigureAwait(false);
            if (reconciler.HeldACycle)
            {
                await reconciler.RunOnceAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (StoreUnavailableException ex)
        {
            LogCycleFailed(ex);
        }
        catch (Exception ex)
        {
            // As the reconcile job does: the next cycle on the interval retries, and the host goes on.
            LogCycleFailed(ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The reconcile cycle held for the decisions made while the service was down failed; the next cycle retries")]
    private partial void LogCycleFailed(Exception ex);
}
