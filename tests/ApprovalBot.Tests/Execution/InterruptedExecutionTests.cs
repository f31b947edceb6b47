using ApprovalBot.Drafts;
using ApprovalBot.Execution;
using ApprovalBot.Reconciliation;
using ApprovalBot.Tests.Infrastructure;
using ApprovalBot.Tests.Telegram;
using Microsoft.Extensions.DependencyInjection;

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
}
