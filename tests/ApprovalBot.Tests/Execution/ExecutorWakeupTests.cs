using ApprovalBot.Drafts;
using ApprovalBot.Execution;
using ApprovalBot.Execution.Routes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NSubstitute;
using Quartz;

namespace ApprovalBot.Tests.Execution;

/// <summary>The hand-over to Quartz, against a substitute scheduler: which jobs are fired, and how often.</summary>
public sealed class ExecutorWakeupTests
{
    private readonly IScheduler _scheduler = Substitute.For<IScheduler>();
    private readonly SemaphoreSlim _scheduled = new(0);
    private int _reconcileTriggers;
    private DateTimeOffset _nextDue = DateTimeOffset.UtcNow.AddHours(1);

    public ExecutorWakeupTests()
    {
        _scheduler.GetJobDetail(ApprovalJobKeys.Reconcile, Arg.Any<CancellationToken>())
            .Returns(new ValueTask<IJobDetail?>(JobBuilder.Create<NoJob>().WithIdentity(ApprovalJobKeys.Reconcile).Build()));
        _scheduler.ScheduleJob(Arg.Any<ITrigger>(), Arg.Any<ScheduleJobOptions>(), Arg.Any<CancellationToken>())
            .Returns(_ =>
            {
                _scheduled.Release();
                return new ValueTask<DateTimeOffset>(DateTimeOffset.UtcNow);
            });
        _scheduler.TriggerJob(ApprovalJobKeys.Reconcile, Arg.Any<JobDataMap>(), Arg.Any<CancellationToken>())
            .Returns(_ =>
            {
                Interlocked.Increment(ref _reconcileTriggers);
                return ValueTask.CompletedTask;
            });
    }

    [Fact]
    public async Task AfterCycle_ManyRunsEndBeforeTheReconcilePassBegins_OnePassRequested()
    {
        var requests = new ReconcileRequests();
        var wakeup = await StartAsync(requests);

        for (var run = 0; run < 10; run++)
        {
            await RunEndedAsync(wakeup);
        }

        Assert.Equal(1, Volatile.Read(ref _reconcileTriggers));
    }

    [Fact]
    public async Task AfterCycle_RunEndsAfterThePassBegan_AnotherPassRequested()
    {
        var requests = new ReconcileRequests();
        var wakeup = await StartAsync(requests);
        await RunEndedAsync(wakeup);
        await RunEndedAsync(wakeup);

        requests.Beginning();
        await RunEndedAsync(wakeup);
        await RunEndedAsync(wakeup);

        Assert.Equal(2, Volatile.Read(ref _reconcileTriggers));
    }

    private async Task<ExecutorWakeup> StartAsync(ReconcileRequests requests)
    {
        var schedulers = Substitute.For<ISchedulerFactory>();
        schedulers.GetScheduler(Arg.Any<CancellationToken>()).Returns(new ValueTask<IScheduler>(_scheduler));
        var wakeup = new ExecutorWakeup(
            new DraftSignals(), schedulers, Options.Create(new ExecutorRoutesOptions()), requests, TimeProvider.System, NullLogger<ExecutorWakeup>.Instance);
        await wakeup.StartAsync(CancellationToken.None);
        return wakeup;
    }

    /// <summary>
    /// A run's end with an earlier retry time each, so that every follow-up schedules a wake-up: follow-ups go one at
    /// a time, so once the next one has scheduled, this one has also decided about the reconcile pass.
    /// </summary>
    private async Task RunEndedAsync(ExecutorWakeup wakeup)
    {
        _nextDue -= TimeSpan.FromMinutes(1);
        await wakeup.AfterCycleAsync(new ExecutorCycleResult(0, 1, 0, 1, 0, _nextDue), CancellationToken.None);
        Assert.True(await _scheduled.WaitAsync(TimeSpan.FromSeconds(30)), "the follow-up scheduled its wake-up");
        // The sentinel: its schedule call comes after the follow-up above is over.
        _nextDue -= TimeSpan.FromMinutes(1);
        await wakeup.AfterCycleAsync(new ExecutorCycleResult(0, 0, 0, 0, 0, _nextDue), CancellationToken.None);
        Assert.True(await _scheduled.WaitAsync(TimeSpan.FromSeconds(30)), "the sentinel scheduled its wake-up");
    }

    private sealed class NoJob : IJob
    {
        public ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
