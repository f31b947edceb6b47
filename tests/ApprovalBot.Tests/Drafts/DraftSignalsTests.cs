using ApprovalBot.Drafts;

namespace ApprovalBot.Tests.Drafts;

public sealed class DraftSignalsTests
{
    private static DraftChange Change(string id) => new(id, "reply", DraftState.Pending, DraftState.Carded);

    [Fact]
    public void NextChange_DisposedWithoutAChange_NothingLeftBehind()
    {
        var signals = new DraftSignals();

        using (signals.NextChange("reply:a"))
        {
            Assert.Equal(1, signals.Waiting);
            Assert.Equal(1, signals.WaitedIds);
        }

        Assert.Equal(0, signals.Waiting);
        Assert.Equal(0, signals.WaitedIds);
    }

    [Fact]
    public void Publish_ChangeOfTheId_WakesEveryRegistrationTakenBefore()
    {
        var signals = new DraftSignals();
        using var first = signals.NextChange("reply:a");
        using var second = signals.NextChange("reply:a");
        using var other = signals.NextChange("reply:b");

        signals.Publish(Change("reply:a"));
        using var later = signals.NextChange("reply:a");

        Assert.True(first.Changed.IsCompletedSuccessfully);
        Assert.True(second.Changed.IsCompletedSuccessfully);
        Assert.False(other.Changed.IsCompleted);
        Assert.False(later.Changed.IsCompleted);
    }

    [Fact]
    public void Dispose_OneOfTwoWaiters_TheOtherIsStillWoken()
    {
        var signals = new DraftSignals();
        var leaving = signals.NextChange("reply:a");
        using var staying = signals.NextChange("reply:a");

        leaving.Dispose();
        leaving.Dispose();
        signals.Publish(Change("reply:a"));

        Assert.True(staying.Changed.IsCompletedSuccessfully);
        Assert.Equal(1, signals.Waiting);
        Assert.Equal(0, signals.WaitedIds);
    }

    [Fact]
    public void Dispose_AfterTheChangeAndANewerWaiter_LeavesTheNewerOneRegistered()
    {
        var signals = new DraftSignals();
        var woken = signals.NextChange("reply:a");
        signals.Publish(Change("reply:a"));
        using var newer = signals.NextChange("reply:a");

        woken.Dispose();
        signals.Publish(Change("reply:a"));

        Assert.True(newer.Changed.IsCompletedSuccessfully);
    }

    [Fact]
    public void WaitingChanged_RegisterAndDispose_ReportsEachCount()
    {
        var signals = new DraftSignals();
        var counts = new List<int>();
        signals.WaitingChanged += counts.Add;

        var a = signals.NextChange("reply:a");
        var b = signals.NextChange("reply:b");
        a.Dispose();
        b.Dispose();

        Assert.Equal([1, 2, 1, 0], counts);
    }
}
