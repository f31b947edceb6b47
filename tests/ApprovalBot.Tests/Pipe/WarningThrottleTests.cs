using ApprovalBot.Pipe;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Pipe;

public sealed class WarningThrottleTests
{
    [Fact]
    public void ShouldLog_AFloodWithinTheInterval_FirstLoggedThenOneWithTheCountOfThoseLeftOut()
    {
        var time = new ManualTimeProvider();
        var throttle = new WarningThrottle(time, TimeSpan.FromMinutes(1));

        Assert.True(throttle.ShouldLog(out var first));
        Assert.Equal(0, first);
        for (var i = 0; i < 500; i++)
        {
            Assert.False(throttle.ShouldLog(out _));
            time.Advance(TimeSpan.FromMilliseconds(100));
        }
        time.Advance(TimeSpan.FromSeconds(10));

        Assert.True(throttle.ShouldLog(out var leftOut));
        Assert.Equal(500, leftOut);
        Assert.False(throttle.ShouldLog(out _));
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.True(throttle.ShouldLog(out var afterAQuietSpell));
        Assert.Equal(1, afterAQuietSpell);
    }

    [Fact]
    public void ShouldLog_WallClockSetBackAnHour_NextWarningStillComesAfterTheInterval()
    {
        var time = new WallClockApart();
        var throttle = new WarningThrottle(time, TimeSpan.FromMinutes(1));
        Assert.True(throttle.ShouldLog(out _));

        // The wall clock goes back an hour (an NTP step, a VM resumed), while time itself moves on past the interval.
        time.Wall -= TimeSpan.FromHours(1);
        time.Elapsed += TimeSpan.FromMinutes(2);

        Assert.True(throttle.ShouldLog(out var suppressed));
        Assert.Equal(0, suppressed);
    }

    /// <summary>A clock whose wall time and monotonic time are moved apart, as they can be on a real machine.</summary>
    private sealed class WallClockApart : TimeProvider
    {
        public DateTimeOffset Wall { get; set; } = new(2026, 11, 22, 9, 0, 0, TimeSpan.Zero);

        public TimeSpan Elapsed { get; set; }

        public override DateTimeOffset GetUtcNow() => Wall;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Elapsed.Ticks;
    }
}
