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
}
