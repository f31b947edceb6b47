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
}
