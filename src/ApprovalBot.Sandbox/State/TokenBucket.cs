namespace ApprovalBot.Sandbox.State;

internal sealed class TokenBucket
{
    private readonly double _capacity;
    private readonly double _perSecond;
    private double _tokens;
    private DateTimeOffset? _refilledAt;

    public TokenBucket(double capacity, double perSecond)
    {
        _capacity = capacity;
        _perSecond = perSecond;
        _tokens = capacity;
    }

    /// <summary>Seconds until a token is available; 0 when one is available now.</summary>
    public double SecondsUntilAvailable(DateTimeOffset now)
    {
        Refill(now);
        return _tokens >= 1 ? 0 : (1 - _tokens) / _perSecond;
    }

    public void Take(DateTimeOffset now)
    {
        Refill(now);
        _tokens -= 1;
    }

    private void Refill(DateTimeOffset now)
    {
        if (_refilledAt is { } last && now > last)
        {
            _tokens = Math.Min(_capacity, _tokens + (now - last).TotalSeconds * _perSecond);
        }

        _refilledAt = now;
    }
}
