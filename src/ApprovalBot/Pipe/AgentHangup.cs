using System.IO.Pipes;
using Microsoft.Win32.SafeHandles;

namespace ApprovalBot.Pipe;

/// <summary>
/// Whether the agent of the connection serving the current request has hung up. The server marks each connection's
/// flow (<see cref="Begin"/>); an operation that may hold its connection for long (a <c>wait</c>, up to ten minutes)
/// watches it (<see cref="Watch"/>). The server reads no request while one is being answered, so without this an
/// agent killed mid-wait, or one that gave up on its own timeout and closed, kept its connection slot, its socket and
/// its registration until the timeout it had asked for: enough of them in ten minutes took every one of
/// <c>Pipe:MaxConnections</c>, and every agent then hung at connect. Only a hang-up counts: Linux reports POLLHUP on a
/// Unix socket once both directions are shut (the peer closed it); an agent that shut down only its sending side is
/// still reading, and gets its answer. A read could not tell the two apart (both end in end-of-input).
/// </summary>
internal sealed class AgentHangup
{
    private static readonly AsyncLocal<AgentHangup?> Current = new();

    private readonly SafePipeHandle _handle;

    private AgentHangup(SafePipeHandle handle) => _handle = handle;

    /// <summary>How often a watch looks; a wait shorter than this is not watched (it ends before a look could tell).</summary>
    internal static TimeSpan CheckEvery { get; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Marks the current flow as serving <paramref name="stream"/>'s agent; the operations it calls see it.</summary>
    public static void Begin(PipeStream stream) =>
        Current.Value = OperatingSystem.IsWindows() ? null : new AgentHangup(stream.SafePipeHandle);

    /// <summary>
    /// A token cancelled with <paramref name="cancellationToken"/> or once the current connection's agent hung up
    /// (looked at every <see cref="CheckEvery"/>). Outside a connection (an operation called directly, as in tests)
    /// only <paramref name="cancellationToken"/> cancels it.
    /// </summary>
    public static Watch WatchCurrent(CancellationToken cancellationToken) => new(Current.Value, cancellationToken);

    /// <summary>True once the peer has closed the connection (both ways); false while it may still read.</summary>
    private bool HungUp() => (SocketPoll.Now(_handle, 0) & SocketPoll.PollHup) != 0;

    /// <summary>A watch of one operation; dispose it when the operation ends.</summary>
    public sealed class Watch : IDisposable
    {
        private readonly CancellationTokenSource? _linked;
        private readonly ITimer? _timer;
        private readonly Lock _lock = new();
        private readonly AgentHangup? _connection;
        private bool _disposed;
        private int _hungUp;

        internal Watch(AgentHangup? connection, CancellationToken cancellationToken)
        {
            _connection = connection;
            if (connection is null)
            {
                Token = cancellationToken;
                return;
            }
            _linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            Token = _linked.Token;
            // The real clock: this watches a socket, not the service's time (which tests may hold still).
            _timer = TimeProvider.System.CreateTimer(static w => ((Watch)w!).Check(), this, CheckEvery, CheckEvery);
        }

        public CancellationToken Token { get; }

        /// <summary>Whether <see cref="Token"/> was cancelled because the agent hung up.</summary>
        public bool HungUp => Volatile.Read(ref _hungUp) == 1;

        private void Check()
        {
            lock (_lock)
            {
                if (_disposed || HungUp || !_connection!.HungUp()) return;
                Volatile.Write(ref _hungUp, 1);
            }
            try
            {
                // Outside the lock: cancelling runs the operation's continuation, which may dispose this watch.
                _linked!.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The operation ended meanwhile.
            }
        }

        public void Dispose()
        {
            lock (_lock)
            {
                if (_disposed) return;
                _disposed = true;
            }
            _timer?.Dispose();
            _linked?.Dispose();
        }
    }
}
