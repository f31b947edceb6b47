using ApprovalBot.Drafts;
using ApprovalBot.Execution;
using ApprovalBot.Execution.Routes;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Execution;

public sealed class ExecutionLedgerTests
{
    private static readonly ExecutorRouteOptions Route = new() { Type = "command", Command = ["/bin/true"], MaxAttempts = 3 };

    [Fact]
    public async Task Begin_RetryTimeNotYetCome_NothingStartedAndTheDraftStaysApproved()
    {
        // A run queued by one cycle while its draft's previous attempt was still going must not skip the backoff.
        await using var host = await TestHost.StartAsync();
        await Drafts.ApproveAsync(host.Store, "reply:backing-off", "wait for the retry time");
        Drafts.Sql(host, "UPDATE drafts SET exec_next_at = $at WHERE id = 'reply:backing-off'", ("$at", DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeMilliseconds()));

        var begin = await host.Store.WriteAsync(ctx => ExecutionLedger.Begin(ctx, "reply:backing-off", "executor:command", Route, TimeSpan.FromMinutes(1), "execute"));

        Assert.Null(begin.Started);
        Assert.Equal(DraftState.Approved, host.Store.Get("reply:backing-off")!.State);
        Assert.DoesNotContain(host.Store.Events("reply:backing-off"), e => e.Type == "execution_started");
    }

    [Fact]
    public async Task Begin_RetryTimeCome_Started()
    {
        await using var host = await TestHost.StartAsync();
        await Drafts.ApproveAsync(host.Store, "reply:due", "the retry time has come");
        Drafts.Sql(host, "UPDATE drafts SET exec_next_at = $at WHERE id = 'reply:due'", ("$at", DateTimeOffset.UtcNow.AddSeconds(-1).ToUnixTimeMilliseconds()));

        var begin = await host.Store.WriteAsync(ctx => ExecutionLedger.Begin(ctx, "reply:due", "executor:command", Route, TimeSpan.FromMinutes(1), "execute"));

        Assert.NotNull(begin.Started);
        Assert.Equal(DraftState.Executing, host.Store.Get("reply:due")!.State);
    }

    [Fact]
    public async Task Begin_AttemptsUsedUpUnderALoweredMaxAttempts_FailedWithoutARun()
    {
        // Three attempts made under a MaxAttempts of 5, the last one waiting for its retry; the route now allows 3.
        await using var host = await TestHost.StartAsync();
        await Drafts.ApproveAsync(host.Store, "reply:lowered", "the limit came down");
        Drafts.Sql(host, "UPDATE drafts SET exec_attempts = 3, exec_error = 'HTTP 503', exec_next_at = $at WHERE id = 'reply:lowered'",
            ("$at", DateTimeOffset.UtcNow.AddSeconds(-1).ToUnixTimeMilliseconds()));

        var begin = await host.Store.WriteAsync(ctx => ExecutionLedger.Begin(ctx, "reply:lowered", "executor:command", Route, TimeSpan.FromMinutes(1), "execute"));

        Assert.Null(begin.Started);
        var draft = host.Store.Get("reply:lowered")!;
        Assert.Equal(draft, begin.Exhausted);
        Assert.Equal((DraftState.Failed, 3, null), (draft.State, draft.ExecAttempts, draft.ExecNextAt));
        Assert.Equal("HTTP 503; not retried: 3 attempt(s) made, and its route allows 3 now", draft.ExecError);
        var events = host.Store.Events("reply:lowered");
        Assert.DoesNotContain(events, e => e.Type == "execution_started");
        using var details = System.Text.Json.JsonDocument.Parse(Assert.Single(events, e => e.Type == ExecutionLedger.AttemptsExhausted).Details!);
        Assert.Equal((3, 3), (details.RootElement.GetProperty("attempt").GetInt32(), details.RootElement.GetProperty("max_attempts").GetInt32()));
    }

    [Fact]
    public async Task Begin_AnAttemptLeftUnderTheLimit_Started()
    {
        await using var host = await TestHost.StartAsync();
        await Drafts.ApproveAsync(host.Store, "reply:one-left", "one more try");
        Drafts.Sql(host, "UPDATE drafts SET exec_attempts = 2 WHERE id = 'reply:one-left'");

        var begin = await host.Store.WriteAsync(ctx => ExecutionLedger.Begin(ctx, "reply:one-left", "executor:command", Route, TimeSpan.FromMinutes(1), "execute"));

        Assert.Equal(3, begin.Started!.Attempt);
        Assert.Null(begin.Exhausted);
    }

    [Fact]
    public async Task Begin_AttemptsUsedUpAfterALeaseExpired_FailedAndStillNotWithdrawable()
    {
        // attempts_exhausted is no attempt's outcome: the pipe's cancel still sees the last attempt cut off (its lease
        // expired), which only a run under the same key can record, and refuses to withdraw the draft.
        await using var host = await TestHost.StartAsync();
        var pull = new ExecutorRouteOptions { Type = "pull", MaxAttempts = 5, Idempotent = true };
        await Drafts.ApproveAsync(host.Store, "reply:expired-then-lowered", "claimed, then abandoned");
        var begin = await host.Store.WriteAsync(ctx => ExecutionLedger.Begin(ctx, "reply:expired-then-lowered", "pull:reply", pull, TimeSpan.FromMinutes(1), "claim"));
        await host.Store.WriteAsync(ctx => ExecutionLedger.Recover(ctx, "reply:expired-then-lowered", begin.Lease, pull, "the pull lease expired", AttemptEvents.LeaseExpired));

        var lowered = new ExecutorRouteOptions { Type = "pull", MaxAttempts = 1, Idempotent = true };
        await host.Store.WriteAsync(ctx => ExecutionLedger.Begin(ctx, "reply:expired-then-lowered", "pull:reply", lowered, TimeSpan.FromMinutes(1), "claim"));
        await using var client = await host.ConnectAsync();
        var cancel = await client.CancelAsync("reply:expired-then-lowered");

        Assert.Equal(DraftState.Failed, host.Store.Get("reply:expired-then-lowered")!.State);
        Assert.Equal("conflict", cancel.Error?.Code);
        Assert.Contains("its pull lease expired", cancel.Error!.Message, StringComparison.Ordinal);
    }
}
