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

    /// <summary>
    /// A pull attempt that may have taken effect, left to a rerun under its key because the pull route deduped, and the kind
    /// moved since to a command route that dedupes too: that route's key may not reach what the agent did, so the draft is
    /// made unknown instead of run, as Finish and Recover judge an attempt by the route it was started on. Before, Begin
    /// looked only at whether the route now dedupes, and ran it.
    /// </summary>
    [Fact]
    public async Task Begin_LeftToARerunOnAPullRouteAndTheKindNowOnADedupingCommandRoute_UnknownNotRun()
    {
        await using var host = await TestHost.StartAsync();
        await Drafts.ApproveAsync(host.Store, "reply:moved", "posted by the agent, maybe");
        var pull = new ExecutorRouteOptions { Type = "pull", Idempotent = true, MaxAttempts = 3 };
        var claim = await host.Store.WriteAsync(ctx => ExecutionLedger.Begin(ctx, "reply:moved", "pull:reply", pull, TimeSpan.FromMinutes(1), "claim"));
        await host.Store.WriteAsync(ctx => ExecutionLedger.Finish(ctx, "reply:moved", claim.Lease!,
            AttemptOutcome.Failure("timed out", retryable: true, mayHaveTakenEffect: true), pull, new ExecutionOptions(), "pull:reply"));
        Drafts.Sql(host, "UPDATE drafts SET exec_next_at = NULL WHERE id = 'reply:moved'");
        var command = new ExecutorRouteOptions { Type = "command", Command = ["/bin/true"], Idempotent = true, MaxAttempts = 3 };

        var begin = await host.Store.WriteAsync(ctx => ExecutionLedger.Begin(ctx, "reply:moved", "executor:command", command, TimeSpan.FromMinutes(1), "execute"));

        Assert.Null(begin.Started);
        var draft = host.Store.Get("reply:moved")!;
        Assert.Equal(draft, begin.Unsettled);
        Assert.Equal((DraftState.Unknown,
            "its last attempt may have taken effect and was left to a rerun under the same key, but it was started on a pull route, and its kind's route " +
            "is command now, whose idempotency key may not reach what it did; it may or may not have taken effect"), (draft.State, draft.ExecError));
        Assert.Single(host.Store.Events("reply:moved"), e => e.Type == AttemptEvents.ExecutionStarted);
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
