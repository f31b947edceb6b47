using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Pipe;

public sealed class WaitOperationTests
{
    [Fact]
    public async Task Wait_DecisionCommittedWhileWaiting_ReturnsDecidedDraft()
    {
        await using var host = await TestHost.StartAsync();
        await using var client = await host.ConnectAsync();
        await client.SubmitAsync(new DraftSubmission { Id = "reply:w", Kind = "reply", Agent = "a", Text = "t" });
        var signals = host.Store.Signals;
        var registered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        signals.WaitingChanged += count =>
        {
            if (count == 1) registered.TrySetResult();
        };

        var waiting = client.WaitAsync("reply:w", 60_000);
        // The service has read the draft as pending and is now waiting on the signal: the decision commits after that.
        await registered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(waiting.IsCompleted);
        await host.Store.TransitionAsync(new Transition("reply:w", [DraftState.Pending], DraftState.Rejected, "decided", "test")
        {
            Set = new Dictionary<string, object?> { ["decision"] = "rejected", ["decided_by"] = 1001L, ["decision_sha256"] = Sha.Hex("t") },
        });
        // Far below the 60 s timeout: only the change signal can answer this soon.
        var response = await waiting.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(response.Decided);
        Assert.Equal(States.Rejected, response.Draft!.State);
        Assert.Equal("rejected", response.Draft.Decision!.Outcome);
        Assert.Equal(0, signals.Waiting);
        Assert.Equal(0, signals.WaitedIds);
    }

    [Fact]
    public async Task Wait_NoDecisionBeforeTimeout_ReturnsUndecided()
    {
        await using var host = await TestHost.StartAsync();
        await using var client = await host.ConnectAsync();
        await client.SubmitAsync(new DraftSubmission { Id = "reply:w0", Kind = "reply", Agent = "a", Text = "t" });

        var response = await client.WaitAsync("reply:w0", 0);

        Assert.True(response.Ok);
        Assert.False(response.Decided);
        Assert.Equal(States.Pending, response.Draft!.State);
    }

    [Fact]
    public async Task Wait_TimedOutOnADraftThatNeverMoves_LeavesNoWaiterBehind()
    {
        await using var host = await TestHost.StartAsync();
        await using var client = await host.ConnectAsync();
        await client.SubmitAsync(new DraftSubmission { Id = "reply:w-leak", Kind = "reply", Agent = "a", Text = "t" });
        var signals = host.Store.Signals;
        var peak = 0;
        signals.WaitingChanged += count => InterlockedMax(ref peak, count);

        var responses = await Task.WhenAll(Enumerable.Range(0, 3).Select(async _ =>
        {
            await using var waiter = await host.ConnectAsync();
            return await waiter.WaitAsync("reply:w-leak", 50);
        }));

        Assert.All(responses, r => Assert.False(r.Decided));
        Assert.True(Volatile.Read(ref peak) >= 1, "the waits never registered for the change signal");
        Assert.Equal(0, signals.Waiting);
        Assert.Equal(0, signals.WaitedIds);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current) return;
            current = seen;
        }
    }

    [Fact]
    public async Task Wait_UnknownId_NotFound()
    {
        await using var host = await TestHost.StartAsync();
        await using var client = await host.ConnectAsync();

        var response = await client.WaitAsync("reply:none", 10);

        Assert.Equal(ErrorCodes.NotFound, response.Error!.Code);
    }

    [Fact]
    public async Task Wait_UntilFinal_AnswersAtTheEndOfTheFlowNotAtTheDecision()
    {
        await using var host = await TestHost.StartAsync();
        await using var client = await host.ConnectAsync();
        await DraftFixtures.ApproveAsync(host.Store, "reply:wf", "t");

        var waiting = client.WaitAsync("reply:wf", 60_000, WaitUntil.Final);
        await DraftFixtures.MoveAsync(host.Store, "reply:wf", DraftState.Approved, DraftState.Executing);
        Assert.False(waiting.IsCompleted);
        await DraftFixtures.MoveAsync(host.Store, "reply:wf", DraftState.Executing, DraftState.Executed, new Dictionary<string, object?> { ["exec_result"] = "https://example.test/1", ["exec_attempts"] = 1, ["exec_key"] = "ab1-test" });
        var response = await waiting;

        Assert.True(response.Decided);
        Assert.Equal(States.Executed, response.Draft!.State);
        Assert.Equal("https://example.test/1", response.Draft.Execution!.Result);
    }
}
