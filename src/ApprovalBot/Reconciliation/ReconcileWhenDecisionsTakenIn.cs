using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Reconciliation;

/// <summary>
/// Runs the cycle the <see cref="Reconciler"/> held, as soon as the decisions made while the service was down are in
/// (<see cref="IMissedDecisions"/>): drafts that came due meanwhile would otherwise wait for the next interval (60 s by
/// default) to expire, still open to a decision. Only when a cycle was held: a backlog fetched before the start's first
/// cycle needs none. Not a <see cref="BackgroundService"/>: it ends after its one cycle, and a background loop that ends
/// stops the host (<see cref="Hosting.BackgroundLoops"/>).
/// </summary>
internal sealed partial class ReconcileWhenDecisionsTakenIn(
    IMissedDecisions missed, Reconciler reconciler, ILogger<ReconcileWhenDecisionsTakenIn> logger) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task _run = Task.CompletedTask;

    /// <summary>Completes once the held cycle ran (or none was held, or the host stopped first).</summary>
    internal Task Completion => _run;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (missed is not NoMissedDecisions)
        {
            _run = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
        }
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _run.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public void Dispose() => _stopping.Dispose();

    private async Task RunAsync(CancellationToken stoppingToken)
    {
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
        catch (Exception ex)
        {
            // The store failing included: the next cycle on the interval retries, and the host goes on.
            LogCycleFailed(ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The reconcile cycle held for the decisions made while the service was down failed; the next cycle retries")]
    private partial void LogCycleFailed(Exception ex);
}
