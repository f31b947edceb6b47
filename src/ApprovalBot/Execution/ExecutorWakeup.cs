using ApprovalBot.Drafts;
using ApprovalBot.Execution.Routes;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Quartz;

namespace ApprovalBot.Execution;

/// <summary>
/// Connects the store to the Quartz jobs: an approval commit fires the executor job at once (coalesced, so a
/// burst of approvals is one extra cycle, not one each); after each cycle it schedules a wake-up for the earliest
/// pending retry and fires the reconcile job when one is registered.
/// </summary>
internal sealed class ExecutorWakeup(
    DraftSignals signals,
    ISchedulerFactory schedulers,
    IOptions<ExecutorRoutesOptions> routes,
    TimeProvider time,
    ILogger<ExecutorWakeup> logger) : IHostedService, IExecutorCycleListener
{
    private int _wakePending;
    private volatile bool _running;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _running = true;
        signals.Subscribe(OnChange);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _running = false;
        return Task.CompletedTask;
    }

    /// <summary>Called by the job as a cycle begins: changes from here on need a further cycle.</summary>
    public void CycleStarting() => Interlocked.Exchange(ref _wakePending, 0);

    private void OnChange(DraftChange change)
    {
        // executing -> approved is a failed attempt waiting out its backoff; the retry wake-up handles it.
        if (!_running || change.To != DraftState.Approved || change.From == DraftState.Executing)
        {
            return;
        }
        if (routes.Value.TryGet(change.Kind, out var route) && route.RouteType is RouteType.Command or RouteType.Webhook
            && Interlocked.Exchange(ref _wakePending, 1) == 0)
        {
            _ = TriggerAsync(ApprovalJobKeys.Executor);
        }
    }

    private async Task TriggerAsync(JobKey key)
    {
        try
        {
            var scheduler = await schedulers.GetScheduler().ConfigureAwait(false);
            await scheduler.TriggerJob(key).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Interlocked.Exchange(ref _wakePending, 0);
            logger.WakeFailed(ex);
        }
    }

    public async Task AfterCycleAsync(ExecutorCycleResult result, CancellationToken cancellationToken)
    {
        if (!_running) return;
        var scheduler = await schedulers.GetScheduler(cancellationToken).ConfigureAwait(false);
        if (result.NextDueAt is { } due)
        {
            // The store runs on the injected clock, Quartz on the system clock: hand over a delay, not an instant.
            var delay = due - time.GetUtcNow();
            var trigger = TriggerBuilder.Create()
                .WithIdentity(ApprovalJobKeys.ExecutorRetry)
                .ForJob(ApprovalJobKeys.Executor)
                .StartAt(DateTimeOffset.UtcNow + (delay > TimeSpan.Zero ? delay : TimeSpan.Zero))
                .Build();
            await scheduler.UnscheduleJob(ApprovalJobKeys.ExecutorRetry, cancellationToken).ConfigureAwait(false);
            await scheduler.ScheduleJob(trigger, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        if (await scheduler.GetJobDetail(ApprovalJobKeys.Reconcile, cancellationToken).ConfigureAwait(false) is not null)
        {
            await scheduler.TriggerJob(ApprovalJobKeys.Reconcile, cancellationToken).ConfigureAwait(false);
        }
    }
}
