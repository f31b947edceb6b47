using System.IO.Pipes;

namespace ApprovalBot.Pipe;

/// <summary>
/// One served connection as <see cref="ConnectionSlots"/> sees it: busy (a request being read, carried out or
/// answered, a <c>wait</c> included) or idle (waiting for a request with no byte of one received), and whether it was
/// closed to give its slot to a waiting agent. Idle and closed are decided by one compare-and-set each way, so a
/// request whose first bytes arrive as the connection is closed is either served in full (it became busy first) or
/// never looked at (it was closed first).
/// </summary>
internal sealed class PipeConnection(PipeStream stream, TimeProvider time)
{
    private const int Busy = 0, Idle = 1, Closed = 2;
    private int _state = Busy;
    private long _idleSince;
    private readonly CancellationTokenSource _closed = new();
    private ConnectionSlots? _slots;

    /// <summary>Cancelled once the connection was closed for a waiting agent: ends the read that waits for a request.</summary>
    public CancellationToken ClosedToken => _closed.Token;

    public bool IsClosed => Volatile.Read(ref _state) == Closed;

    public bool IsIdle => Volatile.Read(ref _state) == Idle;

    /// <summary>When it last became idle, as a <see cref="TimeProvider"/> timestamp; meaningful only while idle.</summary>
    public long IdleSince => Volatile.Read(ref _idleSince);

    public TimeSpan IdleFor => time.GetElapsedTime(IdleSince);

    internal void ServedBy(ConnectionSlots slots) => _slots = slots;

    /// <summary>Waiting for a request with nothing of one buffered: from now on this connection may be closed for another.</summary>
    public void EnterIdle()
    {
        Volatile.Write(ref _idleSince, time.GetTimestamp());
        // A full fence: either this sees an agent waiting for a slot, or that agent's look for an idle connection sees this.
        if (Interlocked.CompareExchange(ref _state, Idle, Busy) == Busy)
        {
            _slots?.BecameIdle();
        }
    }

    /// <summary>Bytes of a request arrived: true if they are to be served, false if the connection was closed first.</summary>
    public bool TryBecomeBusy() => Interlocked.CompareExchange(ref _state, Busy, Idle) != Closed;

    /// <summary>
    /// Input waiting in the socket: an agent that has sent (part of) a request is not idle, although its bytes are not
    /// read yet. Never on Windows, where this service does not run.
    /// </summary>
    public bool HasUnreadInput() =>
        !OperatingSystem.IsWindows() && (SocketPoll.Now(stream.SafePipeHandle, SocketPoll.PollIn) & SocketPoll.PollIn) != 0;

    /// <summary>Closes it if idle; only <see cref="ConnectionSlots"/> calls this, then <see cref="SignalClosed"/> outside its lock.</summary>
    internal bool TryClose() => Interlocked.CompareExchange(ref _state, Closed, Idle) == Idle;

    // The source is never disposed: it has no timer, and a close may be signalled after the connection ended.
    internal void SignalClosed() => _closed.Cancel();
}
