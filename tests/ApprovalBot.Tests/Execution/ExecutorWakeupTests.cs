using ApprovalBot.Drafts;
using ApprovalBot.Execution;
using ApprovalBot.Execution.Routes;
using ApprovalBot.Tests.Infrastructure;
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

    /// <summary>
    /// A pull executor's fail that leaves the draft failed or unknown has no executor cycle after it to ask for a reconcile
    /// pass: it asks at once, as a blocked draft does, so the human hears of it without waiting for the interval. A push
    /// kind's failure does not (its run's end asks after the cycle), nor does a pull kind's retry waiting in approved.
    /// </summary>
    [Theory]
    [InlineData("pulled", "failed", 1)]
    [InlineData("pulled", "unknown", 1)]
    [InlineData("pulled", "approved", 0)]
    [InlineData("reply", "failed", 0)]
    [InlineData("reply", "blocked", 1)]
    public async Task Change_PullDraftLeftForAHuman_ReconcilePassRequestedAtOnce(string kind, string to, int passes)
    {
        var signals = new DraftSignals();
        var routes = new ExecutorRoutesOptions();
        routes.Routes["pulled"] = new ExecutorRouteOptions { Type = "pull" };
        routes.Routes["reply"] = new ExecutorRouteOptions { Type = "command", Command = ["true"] };
        // Each request for a pass starts by asking for the scheduler (coalescing comes after): counted here.
        var asked = new SemaphoreSlim(0);
        var schedulers = Substitute.For<ISchedulerFactory>();
        schedulers.GetScheduler(Arg.Any<CancellationToken>()).Returns(_ =>
        {
            asked.Release();
            return new ValueTask<IScheduler>(_scheduler);
        });
        var wakeup = new ExecutorWakeup(signals, schedulers, Options.Create(routes), new ReconcileRequests(), TimeProvider.System, NullLogger<ExecutorWakeup>.Instance);
        await wakeup.StartAsync(CancellationToken.None);

        signals.Publish(new DraftChange(kind + ":1", kind, DraftState.Executing, DraftStateNames.Parse(to)));
        // The sentinel: a blocked draft always asks.
        signals.Publish(new DraftChange("sentinel", "reply", DraftState.Executing, DraftState.Blocked));
        for (var i = 0; i < 1 + passes; i++)
        {
            Assert.True(await asked.WaitAsync(TimeSpan.FromSeconds(30)), $"request {i + 1} of {1 + passes}");
        }

        // Bounded, not a sleep for a signal: the change's request, had it been made, was queued before the sentinel's.
        Assert.False(await asked.WaitAsync(TimeSpan.FromMilliseconds(200)), "no further request");
    }

    /// <summary>
    /// The retry's wake-up is an instant of the injected clock, which Quartz's default scheduler reads too (the container's
    /// TimeProvider). Handed over as the system clock's instant, under a test clock an hour ahead it was an hour in Quartz's
    /// past: misfired, and Quartz spun re-applying its misfire policy (a test process grew to gigabytes).
    /// </summary>
    [Fact]
    public async Task AfterCycle_RetryDue_WakeUpScheduledAtTheRetryOnTheInjectedClock()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow.AddHours(1));
        var schedulers = Substitute.For<ISchedulerFactory>();
        schedulers.GetScheduler(Arg.Any<CancellationToken>()).Returns(new ValueTask<IScheduler>(_scheduler));
        var wakeup = new ExecutorWakeup(
            new DraftSignals(), schedulers, Options.Create(new ExecutorRoutesOptions()), new ReconcileRequests(), clock, NullLogger<ExecutorWakeup>.Instance);
        await wakeup.StartAsync(CancellationToken.None);

        await wakeup.AfterCycleAsync(new ExecutorCycleResult(0, 1, 0, 1, 0, clock.GetUtcNow().AddSeconds(10)), CancellationToken.None);
        Assert.True(await _scheduled.WaitAsync(TimeSpan.FromSeconds(30)), "the follow-up scheduled its wake-up");

        var scheduled = Assert.Single(_scheduler.ReceivedCalls(), c => c.GetMethodInfo().Name == nameof(IScheduler.ScheduleJob));
        Assert.Equal(clock.GetUtcNow().AddSeconds(10), ((ITrigger)scheduled.GetArguments()[0]!).StartTimeUtc);
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
