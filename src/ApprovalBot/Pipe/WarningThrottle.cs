namespace ApprovalBot.Pipe;

/// <summary>
/// At most one warning of a kind per interval: the first at once, later ones counted and the count told with the next
/// one logged, so a flood (hundreds of agents at once) is one line a minute rather than one per connection. Timed by
/// the monotonic timestamp, not the wall clock: a clock set back an hour must not silence the warning for an hour.
/// </summary>
internal sealed class WarningThrottle(TimeProvider time, TimeSpan every)
{
    private readonly Lock _lock = new();
    private readonly long _everyTicks = (long)(every.TotalSeconds * time.TimestampFrequency);
    private long _next;
    private bool _logged;
    private int _suppressed;

    /// <summary>True if this one is to be logged, with how many were not since the last one logged.</summary>
    public bool ShouldLog(out int suppressed)
    {
        lock (_lock)
        {
            var now = time.GetTimestamp();
            if (_logged && now < _next)
            {
                _suppressed++;
                suppressed = 0;
                return false;
            }
            _logged = true;
            _next = now + _everyTicks;
            suppressed = _suppressed;
            _suppressed = 0;
            return true;
        }
    }
}
