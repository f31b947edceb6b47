namespace ApprovalBot.Sandbox.State;

/// <summary>
/// At most <c>capacity</c> sends in any window of <c>window</c>: Telegram's "20 messages per minute" in a group means any
/// minute, so a burst of 20 is followed by a full minute of refusals, not by one more every 3 seconds.
/// </summary>
internal sealed class SlidingWindow(int capacity, TimeSpan window) : IRateLimit
{
    private readonly Queue<DateTimeOffset> _sent = new();

    public double SecondsUntilAvailable(DateTimeOffset now)
    {
        while (_sent.Count > 0 && now - _sent.Peek() >= window)
        {
            _sent.Dequeue();
        }

        return _sent.Count < capacity ? 0 : (window - (now - _sent.Peek())).TotalSeconds;
    }

    public void Take(DateTimeOffset now) => _sent.Enqueue(now);
}
