namespace ApprovalBot.Client;

public sealed partial class PipeClient
{
    /// <summary>
    /// One call's time limit: when it runs out first, the connection is closed, which ends a read blocked on it.
    /// Whichever of the limit and the answer comes first wins; the other then changes nothing.
    /// </summary>
    private sealed class Call : IDisposable
    {
        private const int Running = 0, Completed = 1, TimedOut = 2;
        private readonly PipeClient _client;
        private readonly Timer? _timer;
        private readonly long _started = System.Diagnostics.Stopwatch.GetTimestamp();
        private int _state;

        public Call(PipeClient client, TimeSpan limit)
        {
            _client = client;
            Limit = limit;
            if (limit != Timeout.InfiniteTimeSpan)
            {
                _timer = new Timer(static call => ((Call)call!).Expire(), this, limit, Timeout.InfiniteTimeSpan);
            }
        }

        public bool Expired => Volatile.Read(ref _state) == TimedOut;

        public TimeSpan Limit { get; }

        /// <summary>What is left of the limit (negative once it has run out); null with no limit.</summary>
        public TimeSpan? TimeLeft => Limit == Timeout.InfiniteTimeSpan ? null : Limit - System.Diagnostics.Stopwatch.GetElapsedTime(_started);

        /// <summary>False when the limit had already run out (and closed the connection).</summary>
        public bool Complete() => Interlocked.CompareExchange(ref _state, Completed, Running) == Running;

        private void Expire()
        {
            if (Interlocked.CompareExchange(ref _state, TimedOut, Running) == Running)
            {
                _client.Close("a call got no answer within its time limit");
            }
        }

        public void Dispose() => _timer?.Dispose();
    }
}
