using ApprovalBot.Pipe;

namespace ApprovalBot.Tests.Pipe;

public sealed class AfterReplyTests
{
    [Fact]
    public void Defer_OutsideARequest_RunsAtOnce()
    {
        var ran = false;

        AfterReply.Defer(() => ran = true);

        Assert.True(ran);
    }

    [Fact]
    public async Task Defer_InsideARequest_RunsWhenTheScopeRunsInOrder()
    {
        var ran = new List<int>();
        var scope = AfterReply.Begin();

        // As an operation would, across an await.
        await Task.Yield();
        AfterReply.Defer(() => ran.Add(1));
        AfterReply.Defer(() => ran.Add(2));
        Assert.Empty(ran);
        scope.Run();

        Assert.Equal([1, 2], ran);
        AfterReply.Defer(() => ran.Add(3));
        Assert.Equal([1, 2, 3], ran);
    }
}
