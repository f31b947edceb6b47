using ApprovalBot.Drafts;

namespace ApprovalBot.Tests.Drafts;

public sealed class DraftStateMachineTests
{
    [Theory]
    [InlineData("pending", "carded", true)]
    [InlineData("carded", "approved", true)]
    [InlineData("approved", "executing", true)]
    [InlineData("approved", "failed", true)]
    [InlineData("executing", "unknown", true)]
    [InlineData("unknown", "executed", true)]
    [InlineData("pending", "executed", false)]
    [InlineData("rejected", "approved", false)]
    [InlineData("blocked", "executing", false)]
    [InlineData("executed", "executing", false)]
    public void CanMove_Table(string from, string to, bool allowed) =>
        Assert.Equal(allowed, DraftStateMachine.CanMove(DraftStateNames.Parse(from), DraftStateNames.Parse(to)));

    [Fact]
    public void IsFinal_OnlyDecidedEndStates()
    {
        var finals = Enum.GetValues<DraftState>().Where(DraftStateMachine.IsFinal).ToHashSet();

        Assert.Equal([DraftState.Rejected, DraftState.Expired, DraftState.Cancelled, DraftState.Executed], finals.Order());
    }

    [Fact]
    public void EveryState_ReachableFromPending()
    {
        var reached = new HashSet<DraftState> { DraftState.Pending };
        var frontier = new Queue<DraftState>([DraftState.Pending]);
        while (frontier.TryDequeue(out var state))
        {
            foreach (var next in Enum.GetValues<DraftState>().Where(n => DraftStateMachine.CanMove(state, n) && reached.Add(n)))
            {
                frontier.Enqueue(next);
            }
        }

        Assert.Equal(Enum.GetValues<DraftState>().Length, reached.Count);
    }
}
