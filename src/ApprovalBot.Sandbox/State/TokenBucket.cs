namespace ApprovalBot.Sandbox.State;

/// <summary>A refilling bucket: short bursts up to its capacity, then a steady rate.</summary>
internal sealed class TokenBucket : IRateLimit
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

/// <summary>One of Telegram's sending limits.</summary>
internal interface IRateLimit
{
    /// <summary>Seconds until a send is allowed; 0 when one is allowed now.</summary>
    double SecondsUntilAvailable(DateTimeOffset now);

    void Take(DateTimeOffset now);
}
