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

        var waiting = client.WaitAsync("reply:w", 60_000);
        await host.Store.TransitionAsync(new Transition("reply:w", [DraftState.Pending], DraftState.Rejected, "decided", "test")
        {
            Set = new Dictionary<string, object?> { ["decision"] = "rejected", ["decided_by"] = 1001L, ["decision_sha256"] = Sha.Hex("t") },
        });
        var response = await waiting;

        Assert.True(response.Decided);
        Assert.Equal(States.Rejected, response.Draft!.State);
        Assert.Equal("rejected", response.Draft.Decision!.Outcome);
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
