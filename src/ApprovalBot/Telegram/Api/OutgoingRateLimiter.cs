using Microsoft.Extensions.Options;

namespace ApprovalBot.Telegram.Api;

/// <summary>
/// Telegram's sending limits kept on our side, so it rarely has to answer 429: about one message a second per private
/// chat with a short burst (a token bucket), at most <see cref="TelegramRateLimits.PerGroupPerMinute"/> in any 60 seconds
/// per group and at most <see cref="TelegramRateLimits.GlobalPerSecond"/> in any second overall (sliding windows: a
/// bucket of 20 refilling 20 a minute would let 40 through in one minute). Waits use the injected <see cref="TimeProvider"/>.
/// Edits of a message already in the chat are not new messages: they count only against the overall limit. Charging
/// them to a group's 20-a-minute window made the "Approved by" edit of a tap wait up to a minute after a burst of cards,
/// and the update poller, which edits before it handles the next update, with it.
/// </summary>
internal sealed class OutgoingRateLimiter(IOptions<TelegramOptions> options, TimeProvider time)
{
    // Above this many chats, those whose limit has fully recovered are forgotten (a bot answering many strangers' /start).
    private const int MaxChats = 1024;
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    private readonly TelegramRateLimits _limits = options.Value.RateLimits;
    private readonly Lock _lock = new();
    private readonly Dictionary<long, ILimit> _chats = [];
    private readonly Window _global = new(options.Value.RateLimits.GlobalPerSecond, Second);

    public async Task WaitAsync(long chatId, bool newMessage, CancellationToken cancellationToken)
    {
        while (true)
        {
            var wait = TryAcquire(chatId, newMessage);
            if (wait <= TimeSpan.Zero)
            {
                return;
            }
            await Task.Delay(wait, time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Takes a send slot for the chat now (zero), or says how long until one may be free and takes nothing. An edit
    /// (<paramref name="newMessage"/> false) takes only an overall slot.
    /// </summary>
    internal TimeSpan TryAcquire(long chatId, bool newMessage = true)
    {
        var now = time.GetTimestamp();
        lock (_lock)
        {
            if (!newMessage)
            {
                var waitOverall = _global.WaitFor(now, time);
                if (waitOverall <= TimeSpan.Zero)
                {
                    _global.Take(now);
                }
                return waitOverall;
            }
            var chat = Chat(chatId, now);
            var waitGlobal = _global.WaitFor(now, time);
            var waitChat = chat.WaitFor(now, time);
            if (waitGlobal <= TimeSpan.Zero && waitChat <= TimeSpan.Zero)
            {
                _global.Take(now);
                chat.Take(now);
                return TimeSpan.Zero;
            }
            return waitGlobal > waitChat ? waitGlobal : waitChat;
        }
    }

    /// <summary>
    /// Takes a send slot for a new message in the chat only if one is free now and more than half of the chat's limit and
    /// of the overall limit is free: for replies nobody waits on (a stranger's command), which must neither hold up their
    /// sender (the update poller) nor spend the slots the approvers' cards and replies need, in the approvers' chat or
    /// overall. False: nothing taken.
    /// </summary>
    internal bool TryAcquireSpare(long chatId)
    {
        var now = time.GetTimestamp();
        lock (_lock)
        {
            var chat = Chat(chatId, now);
            if (!_global.HasSpare(now, time) || !chat.HasSpare(now, time))
            {
                return false;
            }
            _global.Take(now);
            chat.Take(now);
            return true;
        }
    }

    private ILimit Chat(long chatId, long now)
    {
        if (!_chats.TryGetValue(chatId, out var chat))
        {
            if (_chats.Count >= MaxChats)
            {
                Forget(now);
            }
            // Negative ids are groups and channels; positive ones private chats.
            chat = chatId < 0
                ? new Window(_limits.PerGroupPerMinute, Minute)
                : new Bucket(_limits.PerChatBurst, _limits.PerChatPerSecond, now);
            _chats[chatId] = chat;
        }
        return chat;
    }

    private void Forget(long now)
    {
        foreach (var id in _chats.Where(c => c.Value.IsIdle(now, time)).Select(c => c.Key).ToList())
        {
            _chats.Remove(id);
        }
    }

    private interface ILimit
    {
        /// <summary>How long until a send is allowed; zero when one is allowed now.</summary>
        TimeSpan WaitFor(long now, TimeProvider time);

        void Take(long now);

        /// <summary>Back to its initial state: forgetting it changes nothing.</summary>
        bool IsIdle(long now, TimeProvider time);

        /// <summary>A send is allowed now and leaves at least half of the limit (rounded down) free.</summary>
        bool HasSpare(long now, TimeProvider time);
    }

    /// <summary>At most <paramref name="capacity"/> sends in any <paramref name="window"/>.</summary>
    private sealed class Window(int capacity, TimeSpan window) : ILimit
    {
        private readonly Queue<long> _sent = new();

        public TimeSpan WaitFor(long now, TimeProvider time)
        {
            while (_sent.Count > 0 && time.GetElapsedTime(_sent.Peek(), now) >= window)
            {
                _sent.Dequeue();
            }
            return _sent.Count < capacity ? TimeSpan.Zero : window - time.GetElapsedTime(_sent.Peek(), now);
        }

        public void Take(long now) => _sent.Enqueue(now);

        public bool IsIdle(long now, TimeProvider time) => WaitFor(now, time) == TimeSpan.Zero && _sent.Count == 0;

        public bool HasSpare(long now, TimeProvider time) => WaitFor(now, time) == TimeSpan.Zero && _sent.Count + 1 + capacity / 2 <= capacity;
    }

    /// <summary>A burst of <paramref name="capacity"/>, then <paramref name="perSecond"/>.</summary>
    private sealed class Bucket(double capacity, double perSecond, long now) : ILimit
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

        public void Take(long now) => _tokens -= 1;

        public bool IsIdle(long now, TimeProvider time) => WaitFor(now, time) == TimeSpan.Zero && _tokens >= _capacity;

        public bool HasSpare(long now, TimeProvider time) => WaitFor(now, time) == TimeSpan.Zero && _tokens >= 1 + Math.Floor(_capacity / 2);
    }
}
