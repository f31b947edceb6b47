namespace ApprovalBot.Sandbox.State;

/// <summary>
/// Telegram's sending limits: about one message a second per private chat (with a small burst),
/// 20 in any minute per group, 30 a second overall. A refused call consumes nothing, as with Telegram.
/// </summary>
internal sealed class RateLimiter(RateLimitSettings settings, bool enabled)
{
    private readonly Dictionary<long, IRateLimit> _chats = [];
    private readonly TokenBucket _global = new(settings.GlobalPerSecond, settings.GlobalPerSecond);

    public bool Enabled { get; set; } = enabled;

    /// <summary>Takes a send slot for the chat, or returns the retry_after seconds Telegram would answer.</summary>
    public int? TryAcquire(long chatId, bool isPrivate, DateTimeOffset now)
    {
        if (!Enabled)
        {
            return null;
        }

        if (!_chats.TryGetValue(chatId, out var chat))
        {
            _chats[chatId] = chat = isPrivate
                ? new TokenBucket(settings.PrivateChatBurst, settings.PrivateChatPerSecond)
                : new SlidingWindow(settings.GroupPerMinute, TimeSpan.FromMinutes(1));
        }

        var wait = Math.Max(chat.SecondsUntilAvailable(now), _global.SecondsUntilAvailable(now));
        if (wait > 0)
        {
            return Math.Max(1, (int)Math.Ceiling(wait));
        }

        chat.Take(now);
        _global.Take(now);
        return null;
    }

    public void Reset() => _chats.Clear();
}
