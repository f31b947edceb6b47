using ApprovalBot.Telegram.Updates;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Telegram;

public sealed class UpdateBacklogTests
{
    private readonly ManualTimeProvider _clock = new(DateTimeOffset.UnixEpoch.AddDays(20_000));

    [Fact]
    public void TakenIn_AtStart_FalseUntilThePollerSaysTheBacklogIsHandled()
    {
        var backlog = new UpdateBacklog(_clock, Microsoft.Extensions.Logging.Abstractions.NullLogger<UpdateBacklog>.Instance);

        var atStart = backlog.TakenIn;
        backlog.MarkCaughtUp();

        Assert.False(atStart);
        Assert.True(backlog.TakenIn);
        Assert.True(backlog.WhenTakenIn.IsCompleted);
        Assert.True(backlog.CaughtUp);
    }

    [Fact]
    public void TakenIn_PollsFailingThroughTheWindow_GivenUpOnAtTheFirstFailureAfterTenMinutes()
    {
        var backlog = new UpdateBacklog(_clock, Microsoft.Extensions.Logging.Abstractions.NullLogger<UpdateBacklog>.Instance);

        _clock.Advance(UpdateBacklog.GiveUpAfter - TimeSpan.FromMilliseconds(1));
        backlog.PollFailed();
        var failedJustBefore = backlog.TakenIn;
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        var windowEndedWithoutAFailure = backlog.TakenIn;
        backlog.PollFailed();

        Assert.False(failedJustBefore);
        Assert.True(backlog.WindowEnded.IsCompleted);
        Assert.False(windowEndedWithoutAFailure);
        Assert.True(backlog.TakenIn);
        Assert.True(backlog.WhenTakenIn.IsCompleted);
        Assert.False(backlog.CaughtUp);
    }

    [Fact]
    public void TakenIn_PollerNeitherFetchesNorFails_GivenUpOnAfterTwentyMinutes()
    {
        // One getUpdates call with the client's resends can outlast the window; expiry must not wait on it for good.
        var backlog = new UpdateBacklog(_clock, Microsoft.Extensions.Logging.Abstractions.NullLogger<UpdateBacklog>.Instance);

        _clock.Advance(UpdateBacklog.GiveUpAtTheLatest - TimeSpan.FromMilliseconds(1));
        var justBefore = backlog.TakenIn;
        _clock.Advance(TimeSpan.FromMilliseconds(1));

        Assert.False(justBefore);
        Assert.True(backlog.TakenIn);
        Assert.False(backlog.CaughtUp);
    }

    [Fact]
    public void TakenIn_CaughtUpAfterTheWindow_NotGivenUpOnByALaterFailure()
    {
        var backlog = new UpdateBacklog(_clock, Microsoft.Extensions.Logging.Abstractions.NullLogger<UpdateBacklog>.Instance);

        _clock.Advance(UpdateBacklog.GiveUpAfter);
        backlog.MarkCaughtUp();
        backlog.PollFailed();

        Assert.True(backlog.CaughtUp);
        Assert.True(backlog.Handled.IsCompleted);
    }
}
