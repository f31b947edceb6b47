using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Execution;
using ApprovalBot.Execution.Routes;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ApprovalBot.Tests.Execution;

/// <summary>
/// A store restored from a backup holds approvals that may have run after the backup was taken. On a route that does
/// not dedupe, running them again could post twice, so the service makes them unknown for a human instead, as the store
/// opens, before the pipe answers a claim or the first executor cycle runs.
/// </summary>
public sealed class RestoredApprovalsTests
{
    private static IEnumerable<string> Settings(RouteScript once, RouteScript deduping) =>
    [
        .. once.Settings("reply", idempotent: false),
        .. deduping.Settings("post", idempotent: true),
        "ApprovalBot:Kinds:pulled:MaxLength=100",
        "ApprovalBot:Kinds:pulled:Executor:Type=pull",
        "ApprovalBot:Kinds:pulled:Executor:Idempotent=true",
        "ApprovalBot:Kinds:agent:MaxLength=100",
        "ApprovalBot:Kinds:agent:Executor:Type=pull",
        "ApprovalBot:Kinds:memo:MaxLength=100",
    ];

    private static Task<TestHost> StartAsync(RouteScript once, RouteScript deduping, string? dataDirectory = null) =>
        TestHost.StartAsync(settings: Settings(once, deduping), dataDirectory: dataDirectory, compose: b => b.AddApprovalJobs());

    /// <summary>
    /// The store as <c>ApprovalBot restore</c> leaves it: the copy's approvals, and the marker, written while no executor
    /// runs (a host without the executor), as the service is stopped during a restore.
    /// </summary>
    private static async Task RestoredStoreAsync(
        string dataDirectory, RouteScript once, RouteScript deduping, Func<DraftStore, Task> copy, Func<DraftStore, Task>? afterTheRestore = null)
    {
        await using var stopped = await TestHost.StartAsync(settings: Settings(once, deduping), dataDirectory: dataDirectory);
        await copy(stopped.Store);
        var restoredAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 1;
        await stopped.Store.SetSettingAsync(RestoredApprovals.MarkerKey, restoredAt.ToString(System.Globalization.CultureInfo.InvariantCulture));
        while (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() <= restoredAt)
        {
            await Task.Yield();
        }
        if (afterTheRestore is not null)
        {
            await afterTheRestore(stopped.Store);
        }
    }

    private static ExecutorCycle Cycle(TestHost host) => host.Services.GetRequiredService<ExecutorCycle>();

    [Fact]
    public async Task FirstCycle_StoreMarkedRestored_ApprovalsOnRoutesThatDoNotDedupeBecomeUnknownNotRun()
    {
        using var once = new RouteScript();
        using var deduping = new RouteScript();
        using var data = new TempDirectory();
        await RestoredStoreAsync(data.Path, once, deduping, async store =>
        {
            await Drafts.ApproveAsync(store, "reply:maybe-posted", "approved in the copy", "reply");
            await Drafts.ApproveAsync(store, "post:deduped", "approved in the copy too", "post");
            await Drafts.ApproveAsync(store, "pulled:claimed-by-agent", "for an agent", "pulled");
            await Drafts.ApproveAsync(store, "agent:maybe-posted", "for an agent whose target does not dedupe", "agent");
        });

        await using var host = await StartAsync(once, deduping, data.Path);
        await Cycle(host).RunOnceAsync();

        Assert.Empty(once.Runs());
        var unknown = host.Store.Get("reply:maybe-posted")!;
        Assert.Equal(DraftState.Unknown, unknown.State);
        Assert.StartsWith(RestoredApprovals.Reason, unknown.ExecError, StringComparison.Ordinal);
        var settled = Assert.Single(host.Store.Events("reply:maybe-posted"), e => e.Type == AttemptEvents.RestoreUnsettled);
        Assert.Contains(IdempotencyKey.For("reply:maybe-posted", Sha.Hex("approved in the copy")), settled.Details, StringComparison.Ordinal);
        // A second run of these has the same idempotency key: a deduping sink absorbs it, a deduping pull agent's target too.
        Assert.Equal(DraftState.Executed, host.Store.Get("post:deduped")!.State);
        Assert.Single(deduping.Runs());
        Assert.Equal(DraftState.Approved, host.Store.Get("pulled:claimed-by-agent")!.State);
        // A pull route's agent may have claimed and posted it after the backup: handed out again it could post twice.
        // Before, every pull route's approval was kept, whatever its Idempotent said.
        Assert.Equal(DraftState.Unknown, host.Store.Get("agent:maybe-posted")!.State);
        Assert.Single(host.Store.Events("agent:maybe-posted"), e => e.Type == AttemptEvents.RestoreUnsettled);
        Assert.Null(host.Store.GetSetting(RestoredApprovals.MarkerKey));
    }

    /// <summary>Holds the start where it is, as Telegram's start-up does between the pipe's bind and Quartz's first job.</summary>
    private sealed class StartGate(TaskCompletionSource open) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => open.Task;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>
    /// A polling pull agent claims as soon as the restored service's socket answers, which is before the first executor
    /// cycle (Quartz waits for the whole start). The copy's approval on its route, which does not dedupe, may have been
    /// claimed and posted after the backup: it must be unknown by then, not handed out. Before, the first cycle settled the
    /// store, so the claim took the draft (executing, then passed over by the settling) and it could post twice.
    /// </summary>
    [Fact]
    public async Task Claim_AsSoonAsTheRestoredServicesSocketAnswers_CopysApprovalOnARouteThatDoesNotDedupeIsUnknownNotHandedOut()
    {
        using var once = new RouteScript();
        using var deduping = new RouteScript();
        using var data = new TempDirectory();
        await RestoredStoreAsync(data.Path, once, deduping,
            async store => await Drafts.ApproveAsync(store, "agent:maybe-posted", "for an agent whose target does not dedupe", "agent"));

        var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var starting = TestHost.StartAsync(settings: Settings(once, deduping), dataDirectory: data.Path, compose: b =>
        {
            b.Services.AddHostedService(_ => new StartGate(open));
            b.AddApprovalJobs();
        });
        Response claim;
        while (true)
        {
            try
            {
                await using var agent = await PipeClient.ConnectAsync(Path.Combine(data.Path, "p.sock"), TimeSpan.FromSeconds(1));
                claim = await agent.ClaimAsync("agent", max: 10, leaseSeconds: 60);
                break;
            }
            catch (Exception) when (!starting.IsCompleted)
            {
                // The socket is not bound yet: the store is still opening.
                await Task.Delay(20);
            }
        }
        open.SetResult();
        await using var host = await starting;
        await Cycle(host).RunOnceAsync();

        Assert.True(claim.Ok, claim.Error?.Message);
        Assert.Empty(claim.Claimed!);
        var unknown = host.Store.Get("agent:maybe-posted")!;
        Assert.Equal(DraftState.Unknown, unknown.State);
        Assert.StartsWith(RestoredApprovals.Reason, unknown.ExecError, StringComparison.Ordinal);
        Assert.Single(host.Store.Events("agent:maybe-posted"), e => e.Type == AttemptEvents.RestoreUnsettled);
        Assert.DoesNotContain(host.Store.Events("agent:maybe-posted"), e => e.Type == AttemptEvents.ExecutionStarted);
        Assert.Null(host.Store.GetSetting(RestoredApprovals.MarkerKey));
    }

    private static async Task FailedAsync(DraftStore store, string id, string kind)
    {
        await Drafts.ApproveAsync(store, id, "posted, then failed: " + id, kind);
        var route = new ExecutorRouteOptions { Type = "command", Command = ["/bin/true"], MaxAttempts = 1 };
        var begin = await store.WriteAsync(ctx => ExecutionLedger.Begin(ctx, id, "executor:command", route, TimeSpan.FromMinutes(1), "execute"));
        await store.WriteAsync(ctx => ExecutionLedger.Finish(ctx, id, begin.Lease!, AttemptOutcome.Failure("exit 1: rate limited", retryable: false),
            route, new ExecutionOptions(), "executor:command"));
    }

    /// <summary>
    /// A draft the copy holds failed after an attempt may have been retried by an approver and run after the backup was
    /// taken: left failed, the next Retry would run it again. On a route that does not dedupe it becomes unknown, as a
    /// restored approval does; on one that dedupes it stays failed (a Retry runs under the same key). Before, a restore
    /// settled only approved drafts.
    /// </summary>
    [Fact]
    public async Task FirstCycle_FailedDraftsThatMadeAnAttempt_UnknownOnARouteThatDoesNotDedupeOnly()
    {
        using var once = new RouteScript();
        using var deduping = new RouteScript();
        using var data = new TempDirectory();
        await RestoredStoreAsync(data.Path, once, deduping, async store =>
        {
            await FailedAsync(store, "reply:failed-then-retried", "reply");
            await FailedAsync(store, "post:failed-deduped", "post");
        });

        await using var host = await StartAsync(once, deduping, data.Path);
        await Cycle(host).RunOnceAsync();

        var unknown = host.Store.Get("reply:failed-then-retried")!;
        Assert.Equal(DraftState.Unknown, unknown.State);
        Assert.StartsWith(RestoredApprovals.Reason, unknown.ExecError, StringComparison.Ordinal);
        var settled = Assert.Single(host.Store.Events("reply:failed-then-retried"), e => e.Type == AttemptEvents.RestoreUnsettled);
        Assert.Contains("\"restored_state\":\"failed\"", settled.Details, StringComparison.Ordinal);
        Assert.Equal(DraftState.Failed, host.Store.Get("post:failed-deduped")!.State);
        Assert.DoesNotContain(host.Store.Events("post:failed-deduped"), e => e.Type is AttemptEvents.RestoreUnsettled or AttemptEvents.RestoreKept);
        Assert.Empty(once.Runs());
        Assert.Empty(deduping.Runs());
    }

    /// <summary>
    /// The copy holds an approval whose last attempt may have taken effect and was left to a rerun while its route deduped;
    /// the route does not dedupe now, so the restore makes it unknown. The approver checks the sink and taps Retry once: it
    /// runs once. Before the fix the restore's event and the Retry were no attempt's end to the ledger, the attempt before them
    /// still read as left to a rerun, and the draft went straight back to unknown, needing a second Retry.
    /// </summary>
    [Fact]
    public async Task Retry_OfAnApprovalTheRestoreMadeUnknown_RunsItOnce()
    {
        using var once = new RouteScript();
        using var deduping = new RouteScript();
        using var data = new TempDirectory();
        const string id = "reply:left-to-a-rerun";
        await RestoredStoreAsync(data.Path, once, deduping, async store =>
        {
            await Drafts.ApproveAsync(store, id, "may have posted before the backup", "reply");
            var then = new ExecutorRouteOptions { Type = "command", Command = ["/bin/true"], MaxAttempts = 3, Idempotent = true };
            var begin = await store.WriteAsync(ctx => ExecutionLedger.Begin(ctx, id, "executor:command", then, TimeSpan.FromMinutes(1), "execute"));
            await store.WriteAsync(ctx => ExecutionLedger.Finish(ctx, id, begin.Lease!, AttemptOutcome.Interrupted("timed out after 30s"),
                then, new ExecutionOptions(), "executor:command"));
            Assert.Equal(DraftState.Approved, store.Get(id)!.State);
        });
        await using var host = await StartAsync(once, deduping, data.Path);
        await Cycle(host).RunOnceAsync();
        var unknown = host.Store.Get(id)!;
        Assert.Equal(DraftState.Unknown, unknown.State);

        Assert.True((await host.Services.GetRequiredService<ApproverActions>().RetryAsync(id, "telegram:1001", unknown.StateSince)).Applied);
        await Cycle(host).RunOnceAsync();

        Assert.Equal(DraftState.Executed, host.Store.Get(id)!.State);
        Assert.Equal(id, Assert.Single(once.Runs()).EnvId);
        Assert.Single(host.Store.Events(id), e => e.Type == AttemptEvents.ExecutionUnknown || e.Type == AttemptEvents.RestoreUnsettled);
    }

    /// <summary>
    /// An approval the restore keeps (a deduping pull route's, or a deduping push one's before its run) may have run after the backup was
    /// taken: it is marked so in the ledger, and the agent's cancel is refused as after any attempt that may have taken
    /// effect, since only its next run, under the same key, records that effect. Before, the agent was told it was
    /// withdrawn. An approval made after the restore is still withdrawn.
    /// </summary>
    [Fact]
    public async Task FirstCycle_ApprovalKeptOnADedupingPullRoute_MarkedAndTheAgentsCancelRefused()
    {
        using var once = new RouteScript();
        using var deduping = new RouteScript();
        using var data = new TempDirectory();
        await RestoredStoreAsync(data.Path, once, deduping,
            async store => await Drafts.ApproveAsync(store, "pulled:in-the-copy", "for an agent", "pulled"),
            async store => await Drafts.ApproveAsync(store, "pulled:after", "approved after the restore", "pulled"));

        await using var host = await StartAsync(once, deduping, data.Path);
        await Cycle(host).RunOnceAsync();
        await using var agent = await host.ConnectAsync();
        var kept = await agent.CancelAsync("pulled:in-the-copy", "no longer needed");
        var after = await agent.CancelAsync("pulled:after");

        var mark = Assert.Single(host.Store.Events("pulled:in-the-copy"), e => e.Type == AttemptEvents.RestoreKept);
        Assert.Contains("\"may_have_taken_effect\":true", mark.Details, StringComparison.Ordinal);
        Assert.Equal(ApprovalBot.Client.ErrorCodes.Conflict, kept.Error!.Code);
        Assert.Equal("draft 'pulled:in-the-copy' is approved: its last attempt may have taken effect (the store was restored from a backup, and it may " +
            "have run after the backup was taken); it cannot be withdrawn, so that a run under the same idempotency key can still record it; nothing changed",
            kept.Error.Message);
        Assert.Equal(DraftState.Approved, host.Store.Get("pulled:in-the-copy")!.State);
        Assert.True(after.Ok);
        Assert.DoesNotContain(host.Store.Events("pulled:after"), e => e.Type == AttemptEvents.RestoreKept);
    }

    /// <summary>
    /// A kind with no route here may have had one where the copy was made (restored onto a new machine before its
    /// configuration was copied): kept approved, it would run blindly on the route the kind gets later, long after the
    /// marker is gone. Before, it was passed over and the marker removed all the same.
    /// </summary>
    [Fact]
    public async Task FirstCycle_ApprovalOfAKindWithoutARoute_BecomesUnknown()
    {
        using var once = new RouteScript();
        using var deduping = new RouteScript();
        using var data = new TempDirectory();
        await RestoredStoreAsync(data.Path, once, deduping, async store => await Drafts.ApproveAsync(store, "memo:from-the-copy", "approved in the copy", "memo"));

        await using var host = await StartAsync(once, deduping, data.Path);
        await Cycle(host).RunOnceAsync();

        var unknown = host.Store.Get("memo:from-the-copy")!;
        Assert.Equal(DraftState.Unknown, unknown.State);
        Assert.StartsWith(RestoredApprovals.Reason, unknown.ExecError, StringComparison.Ordinal);
        var settled = Assert.Single(host.Store.Events("memo:from-the-copy"), e => e.Type == AttemptEvents.RestoreUnsettled);
        Assert.Contains("\"route\":\"none\"", settled.Details, StringComparison.Ordinal);
        Assert.Null(host.Store.GetSetting(RestoredApprovals.MarkerKey));
    }

    /// <summary>
    /// A tap that reaches the restored service (made while no service ran, or an approver's first tap on it) can be
    /// handled before the first executor cycle: it was approved after the restore, so it runs.
    /// </summary>
    [Fact]
    public async Task FirstCycle_DraftApprovedAfterTheRestore_Runs()
    {
        using var once = new RouteScript();
        using var deduping = new RouteScript();
        using var data = new TempDirectory();
        await RestoredStoreAsync(data.Path, once, deduping,
            async store => await Drafts.ApproveAsync(store, "reply:in-the-copy", "approved in the copy", "reply"),
            async store => await Drafts.ApproveAsync(store, "reply:tapped-after", "approved by a tap after the restore", "reply"));

        await using var host = await StartAsync(once, deduping, data.Path);
        await Cycle(host).RunOnceAsync();

        Assert.Equal(DraftState.Unknown, host.Store.Get("reply:in-the-copy")!.State);
        Assert.Equal(DraftState.Executed, host.Store.Get("reply:tapped-after")!.State);
        Assert.Equal("reply:tapped-after", Assert.Single(once.Runs()).EnvId);
    }

    [Fact]
    public async Task FirstCycle_StoreNotMarkedRestored_ApprovalsRunAsUsual()
    {
        using var once = new RouteScript();
        using var deduping = new RouteScript();
        await using var host = await StartAsync(once, deduping);
        await Drafts.ApproveAsync(host.Store, "reply:fresh", "approved here", "reply");

        await Cycle(host).RunOnceAsync();

        Assert.Single(once.Runs());
        Assert.Equal(DraftState.Executed, host.Store.Get("reply:fresh")!.State);
        Assert.DoesNotContain(host.Store.Events("reply:fresh"), e => e.Type == AttemptEvents.RestoreUnsettled);
    }

    [Fact]
    public async Task LaterCycles_ApprovalsAfterTheRestoreWasSettled_Run()
    {
        using var once = new RouteScript();
        using var deduping = new RouteScript();
        using var data = new TempDirectory();
        await RestoredStoreAsync(data.Path, once, deduping, _ => Task.CompletedTask);
        await using var host = await StartAsync(once, deduping, data.Path);
        await Cycle(host).RunOnceAsync();

        await Drafts.ApproveAsync(host.Store, "reply:after-restore", "approved on the restored store", "reply");
        await Cycle(host).RunOnceAsync();

        Assert.Single(once.Runs());
        Assert.Equal(DraftState.Executed, host.Store.Get("reply:after-restore")!.State);
    }
}
