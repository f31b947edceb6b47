using ApprovalBot.Telegram.Updates;
using ApprovalBot.Tests.Execution;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

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
    public void TakenIn_CaughtUpAfterTheWindow_NotGivenUpOnByALaterFailureOrTheLatestLimit()
    {
        var logs = new CapturedLogs();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));
        var backlog = new UpdateBacklog(_clock, factory.CreateLogger<UpdateBacklog>());

        _clock.Advance(UpdateBacklog.GiveUpAfter);
        backlog.MarkCaughtUp();
        backlog.PollFailed();
        _clock.Advance(UpdateBacklog.GiveUpAtTheLatest);
        var giveUps = logs.Entries.Count(e => e.Message.Contains("still not fetched", StringComparison.Ordinal));

        Assert.True(backlog.CaughtUp);
        Assert.Equal(0, giveUps);
    }

    [Fact]
    public void PollFailed_AfterTheWindow_GiveUpSaidOnceAsAWarning()
    {
        var logs = new CapturedLogs();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));
        var backlog = new UpdateBacklog(_clock, factory.CreateLogger<UpdateBacklog>());

        _clock.Advance(UpdateBacklog.GiveUpAfter);
        backlog.PollFailed();
        backlog.PollFailed();
        _clock.Advance(UpdateBacklog.GiveUpAtTheLatest);

        var giveUp = Assert.Single(logs.Entries, e => e.Message.Contains("still not fetched", StringComparison.Ordinal));
        Assert.Equal(LogLevel.Warning, giveUp.Level);
        Assert.Contains("after 10 minutes", giveUp.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TapsSeenBefore_PollsGoingThroughThenFailing_NowUntilAFailureThenTheLastPollThatBroughtEverything()
    {
        using var backlog = new UpdateBacklog(_clock, Microsoft.Extensions.Logging.Abstractions.NullLogger<UpdateBacklog>.Instance);
        var firstPoll = _clock.GetUtcNow();
        backlog.AllHandled(firstPoll);
        _clock.Advance(TimeSpan.FromMinutes(3));
        var fine = backlog.TapsSeenBefore(_clock.GetUtcNow());

        backlog.PollFailed();
        _clock.Advance(TimeSpan.FromMinutes(3));
        var failing = backlog.TapsSeenBefore(_clock.GetUtcNow());
        var againAt = _clock.GetUtcNow();
        backlog.AllHandled(againAt);
        _clock.Advance(TimeSpan.FromMinutes(1));

        Assert.Equal(firstPoll + TimeSpan.FromMinutes(3), fine);
        Assert.Equal(firstPoll, failing);
        Assert.Equal(_clock.GetUtcNow(), backlog.TapsSeenBefore(_clock.GetUtcNow()));
    }

    [Fact]
    public void TapsSeenBefore_FailingBeforeAnyPollWentThrough_NothingVouchedFor()
    {
        using var backlog = new UpdateBacklog(_clock, Microsoft.Extensions.Logging.Abstractions.NullLogger<UpdateBacklog>.Instance);

        backlog.PollFailed();

        Assert.Equal(DateTimeOffset.MinValue, backlog.TapsSeenBefore(_clock.GetUtcNow()));
    }
}
