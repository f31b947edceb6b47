using ApprovalBot.Drafts;
using ApprovalBot.Execution;
using ApprovalBot.Reconciliation;
using ApprovalBot.Tests.Infrastructure;
using ApprovalBot.Tests.Telegram;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Quartz;

namespace ApprovalBot.Tests.Execution;

/// <summary>
/// Push runs cut off by a shutdown or a crash: recorded as <c>execution_interrupted</c> (never as a pull lease that
/// expired), recovered after a restart, and escalated once per draft.
/// </summary>
public sealed class InterruptedExecutionTests
{
    private static Task<TestHost> StartAsync(string dataDirectory, IEnumerable<string> settings) => TestHost.StartAsync(
        settings: [.. settings, "ApprovalBot:Execution:IntervalSeconds=3600", "ApprovalBot:Reconciliation:IntervalSeconds=3600"],
        dataDirectory: dataDirectory,
        compose: b =>
        {
            b.AddApprovalJobs();
            b.AddReconciliation();
        });

    [Fact]
    public async Task RunOnce_CommandAndWebhookRunsLeftByACrash_ExecutionInterruptedAndOneGapPerDraft()
    {
        using var data = new TempDirectory();
        using var route = new RouteScript();
        await using var host = await StartAsync(data.Path,
        [
            .. route.Settings("reply", idempotent: false),
            "ApprovalBot:Kinds:hook:MaxLength=280", "ApprovalBot:Kinds:hook:Executor:Type=webhook", "ApprovalBot:Kinds:hook:Executor:Url=http://127.0.0.1:9/hook",
        ]);
        var past = DateTimeOffset.UtcNow.AddMinutes(-1);
        await Drafts.LeaveExecutingAsync(host.Store, "reply:cut", "maybe posted", "reply", past);
        await Drafts.LeaveExecutingAsync(host.Store, "hook:cut", "maybe posted too", "hook", past);

        await host.Services.GetRequiredService<ExecutorCycle>().RunOnceAsync();

        foreach (var id in new[] { "reply:cut", "hook:cut" })
        {
            Assert.Equal(DraftState.Unknown, host.Store.Get(id)!.State);
            Assert.DoesNotContain(host.Store.Events(id), e => e.Type == "lease_expired");
            Assert.Single(host.Store.Events(id), e => e.Type == "execution_interrupted");
        }
        var gaps = host.Services.GetRequiredService<GapFinder>().All();
        Assert.Equal(["hook:cut", "reply:cut"], gaps.Select(g => g.DraftId!).Order(StringComparer.Ordinal));
        Assert.All(gaps, g => Assert.Equal(Gaps.AwaitingHuman, g.Name));
        Assert.Empty(route.Runs());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Shutdown_DuringExecution_InterruptedRecordedAndRecoveredAfterRestart(bool idempotent)
    {
        var afterRestart = idempotent ? DraftState.Executed : DraftState.Unknown;
        using var data = new TempDirectory();
        using var route = new RouteScript("slow");
        var settings = route.Settings("reply", idempotent: idempotent, timeoutSeconds: 300).ToList();
        var host = await StartAsync(data.Path, settings);
        try
        {
            await Drafts.ApproveAsync(host.Store, "reply:stopped", "cut off by a shutdown");
            await Eventually.TrueAsync(() => route.Runs().Count == 1, "the route to start");
        }
        finally
        {
            await host.DisposeAsync();
        }
        var key = IdempotencyKey.For("reply:stopped", Sha.Hex("cut off by a shutdown"));

        route.Mode = "ok";
        await using var restarted = await StartAsync(data.Path, settings);
        var cycle = restarted.Services.GetRequiredService<ExecutorCycle>();
        await cycle.RunOnceAsync();

        var interrupted = Assert.Single(restarted.Store.Events("reply:stopped"), e => e.Type == "execution_interrupted");
        Assert.Contains(idempotent ? "\"action\":\"requeued\"" : "\"action\":\"unknown\"", interrupted.Details, StringComparison.Ordinal);
        Assert.DoesNotContain(restarted.Store.Events("reply:stopped"), e => e.Type == "lease_expired");
        var draft = restarted.Store.Get("reply:stopped")!;
        Assert.Equal(afterRestart, draft.State);
        var runs = route.Runs();
        Assert.All(runs, r => Assert.Equal(key, r.Key));
        Assert.Equal(idempotent ? 2 : 1, runs.Count);
        Assert.Equal(idempotent ? 1 : 0, route.Effects().Count);
        var gaps = restarted.Services.GetRequiredService<GapFinder>().All();
        Assert.Equal(idempotent ? 0 : 1, gaps.Count);
    }

    /// <summary>
    /// The service stops while a run's begin is being written (the writer busy with another commit): nothing has been
    /// started, so the route is not started at all, and the draft goes back to approved with its attempt not counted
    /// (an <c>execution_not_started</c> event), to run once after the restart. Before, the begin went on to the route with
    /// the stop's cancelled token, which cut the attempt off at once, and the draft, on a route that does not dedupe, became
    /// unknown for a human to check a sink that nothing had reached.
    /// </summary>
    [Fact]
    public async Task Shutdown_WhileARunsBeginIsWritten_RouteNotStartedAndTheDraftRunsOnceAfterTheRestart()
    {
        using var data = new TempDirectory();
        using var route = new RouteScript();
        var settings = route.Settings("reply").ToList();
        // No job of Quartz's fires during the test (a cycle or a reconcile fired at the start raced the test's own: a second
        // write queued beside the begin, or the draft taken by that cycle); only the test's cycles run.
        var host = await TestHost.StartAsync([.. settings, "ApprovalBot:Execution:IntervalSeconds=3600"],
            services: s => s.Configure<QuartzHostedServiceOptions>(o => o.StartDelay = TimeSpan.FromHours(1)),
            dataDirectory: data.Path, compose: b => b.AddApprovalJobs());
        Task run;
        try
        {
            // This first cycle, with nothing to run, makes the writes a first cycle makes.
            var cycle = host.Services.GetRequiredService<ExecutorCycle>();
            await cycle.RunOnceAsync();
            await Drafts.ApproveUnannouncedAsync(host, "reply:stopping", "approved as the service stops");
            var writer = host.Services.GetRequiredService<DraftWriter>();
            await using (var held = HeldCommit.Start(host.Store))
            {
                run = cycle.RunOnceAsync();
                await Eventually.TrueAsync(() => Task.FromResult(writer.Queued == 1), () => $"the run's begin to wait for the writer (queued: {writer.Queued}, run: {run.Status})");
                host.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
                held.Release();
            }
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        }
        finally
        {
            await host.DisposeAsync();
        }
        Assert.Empty(route.Runs());
        // Read from the file between the two hosts: the restarted host's first cycle, fired by Quartz as it starts, may take
        // the draft before the test could read it through that host.
        Assert.Equal("approved,0", SqliteFile.Scalar(Path.Combine(data.Path, "approvals.db"),
            "SELECT state || ',' || exec_attempts FROM drafts WHERE id = 'reply:stopping'"));

        await using var restarted = await StartAsync(data.Path, settings);
        await restarted.Services.GetRequiredService<ExecutorCycle>().RunOnceAsync();

        var events = restarted.Store.Events("reply:stopping").Select(e => e.Type).ToList();
        Assert.Contains(AttemptEvents.ExecutionNotStarted, events);
        Assert.DoesNotContain(AttemptEvents.ExecutionInterrupted, events);
        Assert.DoesNotContain(AttemptEvents.ExecutionUnknown, events);
        var draft = restarted.Store.Get("reply:stopping")!;
        Assert.Equal((DraftState.Executed, 1), (draft.State, draft.ExecAttempts));
        var only = Assert.Single(route.Runs());
        Assert.Equal(1, only.Payload.GetProperty("attempt").GetInt32());
    }
}
