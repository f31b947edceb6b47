using ApprovalBot.Drafts;
using ApprovalBot.Execution.Routes;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Quartz;

namespace ApprovalBot.Execution;

/// <summary>
/// Connects the store to the Quartz jobs: an approval commit fires the executor job at once (coalesced, so a
/// burst of approvals is one extra cycle, not one each); after each cycle and each run's end it schedules a wake-up
/// for the earliest pending retry (or at once, for drafts that waited for a run slot) and fires the reconcile job
/// when one is registered, unless a pass it fired earlier has yet to begin (<see cref="ReconcileRequests"/>). A draft that becomes blocked (by a cycle or a
/// pull claim) fires the reconcile job at once, so the failed handoff is escalated without waiting for its interval.
/// </summary>
internal sealed class ExecutorWakeup(
    DraftSignals signals,
    ISchedulerFactory schedulers,
    IOptions<ExecutorRoutesOptions> routes,
    ReconcileRequests reconcileRequests,
    TimeProvider time,
    ILogger<ExecutorWakeup> logger) : IHostedService, IExecutorCycleListener
{
    private readonly SemaphoreSlim _followUps = new(1, 1);
    private readonly Lock _pending = new();
    private DateTimeOffset? _pendingDue;
    private bool _followUpQueued;
    private DateTimeOffset? _nextWake;
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
        if (change.To == DraftState.Blocked || (change.To is DraftState.Failed or DraftState.Unknown && IsPull(change.Kind)))
        {
            // A failed handoff check is escalated at once, wherever it happened (an executor cycle, or a pull claim
            // that no cycle follows), not at the next reconcile interval; so is a pull executor's fail that left the draft
            // for a human (a push run's end asks for a pass after its cycle). Coalesced: a burst is one extra pass.
            if (_running)
            {
                _ = Task.Run(TriggerReconcileAsync);
            }
            return;
        }
        // executing -> approved is a failed attempt waiting out its backoff; the retry wake-up handles it.
        if (!_running || change.To != DraftState.Approved || change.From == DraftState.Executing)
        {
            return;
        }
        if (routes.Value.TryGet(change.Kind, out var route) && route.RouteType is RouteType.Command or RouteType.Webhook
            && Interlocked.Exchange(ref _wakePending, 1) == 0)
        {
            // Publish runs on the store's writer thread, and a scheduler call can wait on Quartz's trigger bookkeeping.
            _ = Task.Run(() => TriggerAsync(ApprovalJobKeys.Executor));
        }
    }

    private bool IsPull(string kind) => routes.Value.TryGet(kind, out var route) && route.RouteType == RouteType.Pull;

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
            logger.WakeFailed(ex, key.Name);
        }
    }

    private async Task TriggerReconcileAsync()
    {
        try
        {
            var scheduler = await schedulers.GetScheduler().ConfigureAwait(false);
            await reconcileRequests.RequestAsync(scheduler).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            logger.WakeFailed(ex, ApprovalJobKeys.Reconcile.Name);
        }
    }

    /// <summary>
    /// Hands the follow-ups to Quartz in the background: a scheduler call can wait on the scheduler's own trigger
    /// bookkeeping, and the executor cycle must never wait on it.
    /// </summary>
    public Task AfterCycleAsync(ExecutorCycleResult result, CancellationToken cancellationToken)
    {
        if (!_running)
        {
            return Task.CompletedTask;
        }
        // Coalesced (every run's end reports too): one follow-up waiting at most, with the earliest wake-up asked for.
        lock (_pending)
        {
            if (result.NextDueAt is { } at && (_pendingDue is not { } earlier || at < earlier))
            {
                _pendingDue = at;
            }
            if (_followUpQueued)
            {
                return Task.CompletedTask;
            }
            _followUpQueued = true;
        }
        _ = Task.Run(FollowUpAsync);
        return Task.CompletedTask;
    }

    private async Task FollowUpAsync()
    {
        await _followUps.WaitAsync().ConfigureAwait(false);
        try
        {
            DateTimeOffset? next;
            lock (_pending)
            {
                next = _pendingDue;
                _pendingDue = null;
                _followUpQueued = false;
            }
            var scheduler = await schedulers.GetScheduler().ConfigureAwait(false);
            if (next is { } due)
            {
                // An instant of the injected clock, which is Quartz's too: Quartz's default scheduler reads the container's
                // TimeProvider (UseTimeProvider sets it), as the store does. Instants of another clock (the system's, under a
                // test clock minutes ahead) looked misfired to Quartz, and it spun re-applying its misfire policy.
                var now = time.GetUtcNow();
                var at = due > now ? due : now;
                // One-shot triggers, never unscheduled (Quartz may hold an acquired trigger until it fires); a wake-up
                // already pending at or before this one covers it, and a spare cycle finds nothing due.
                if (_nextWake is not { } pending || pending <= now || at < pending)
                {
                    _nextWake = at;
                    await scheduler.ScheduleJob(TriggerBuilder.Create().ForJob(ApprovalJobKeys.Executor).StartAt(at).Build()).ConfigureAwait(false);
                }
            }
            await reconcileRequests.RequestAsync(scheduler).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            logger.WakeFailed(ex, "executor retry and reconcile");
        }
        finally
        {
            _followUps.Release();
        }
    }
}
