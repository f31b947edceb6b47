using System.Threading.Channels;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Telegram;

/// <summary>
/// A <see cref="ManualTimeProvider"/> that also tells the test when something starts waiting on it: each timer created
/// (a Task.Delay on this clock) is reported with its due time, so a test can see a component pause, check for how long,
/// and move the clock on, without sleeping or guessing.
/// </summary>
/// <param name="reportDueWithin">Reports only timers due within this time of their creation (e.g. a backoff of seconds, not
/// a component's periodic look minutes away); all when null.</param>
internal sealed class SignallingClock(TimeSpan? reportDueWithin = null) : TimeProvider
{
    private readonly ManualTimeProvider _inner = new();
    private readonly Channel<DateTimeOffset> _timers = Channel.CreateUnbounded<DateTimeOffset>();

    public override DateTimeOffset GetUtcNow() => _inner.GetUtcNow();

    public override long GetTimestamp() => _inner.GetTimestamp();

    public override long TimestampFrequency => _inner.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var due = GetUtcNow() + dueTime;
        var timer = _inner.CreateTimer(callback, state, dueTime, period);
        if (dueTime != Timeout.InfiniteTimeSpan && (reportDueWithin is not { } within || dueTime <= within))
        {
            _timers.Writer.TryWrite(due);
        }
        return timer;
    }

    public void Advance(TimeSpan by) => _inner.Advance(by);

    /// <summary>The due time of the next timer created on this clock (already created or yet to come).</summary>
    public async Task<DateTimeOffset> NextTimerAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            return await _timers.Reader.ReadAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"Nothing waited on the clock within {timeout.TotalSeconds:0} s.");
        }
    }
}
