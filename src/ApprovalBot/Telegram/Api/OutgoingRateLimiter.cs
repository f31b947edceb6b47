using Microsoft.Extensions.Options;

namespace ApprovalBot.Telegram.Api;

/// <summary>
/// Token buckets for outgoing messages (per private chat, per group, overall), so the bot slows itself
/// down before Telegram has to answer 429. Waits use the injected <see cref="TimeProvider"/>.
/// </summary>
internal sealed class OutgoingRateLimiter(IOptions<TelegramOptions> options, TimeProvider time)
{
    private readonly TelegramRateLimits _limits = options.Value.RateLimits;
    private readonly Lock _lock = new();
    private readonly Dictionary<long, Bucket> _chats = [];
    private Bucket? _global;

    public async Task WaitAsync(long chatId, CancellationToken cancellationToken)
    {
        while (true)
        {
            var wait = TryTake(chatId);
            if (wait <= TimeSpan.Zero)
            {
                return;
            }
            await Task.Delay(wait, time, cancellationToken).ConfigureAwait(false);
        }
    }

    private TimeSpan TryTake(long chatId)
    {
        var now = time.GetTimestamp();
        lock (_lock)
        {
            _global ??= new Bucket(_limits.GlobalPerSecond, _limits.GlobalPerSecond, now);
            if (!_chats.TryGetValue(chatId, out var chat))
            {
                // Negative ids are groups and channels; positive ones private chats.
                chat = chatId < 0
                    ? new Bucket(_limits.PerGroupPerMinute, _limits.PerGroupPerMinute / 60.0, now)
                    : new Bucket(_limits.PerChatBurst, _limits.PerChatPerSecond, now);
                _chats[chatId] = chat;
            }
            var waitGlobal = _global.WaitFor(now, time);
            var waitChat = chat.WaitFor(now, time);
            if (waitGlobal <= TimeSpan.Zero && waitChat <= TimeSpan.Zero)
            {
                _global.Take();
                chat.Take();
                return TimeSpan.Zero;
            }
            return waitGlobal > waitChat ? waitGlobal : waitChat;
        }
    }

    private sealed class Bucket(double capacity, double perSecond, long now)
    {
        private readonly double _capacity = capacity;
        private double _tokens = capacity;
        private long _last = now;

        public TimeSpan WaitFor(long now, TimeProvider time)
        {
            var elapsed = time.GetElapsedTime(_last, now).TotalSeconds;
            if (elapsed > 0)
            {
                _tokens = Math.Min(_capacity, _tokens + elapsed * perSecond);
                _last = now;
            }
            return _tokens >= 1 ? TimeSpan.Zero : TimeSpan.FromSeconds((1 - _tokens) / perSecond);
        }

        public void Take() => _tokens -= 1;
    }
}
