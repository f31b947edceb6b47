using System.IO.Pipes;

namespace ApprovalBot.Pipe;

/// <summary>
/// One served connection as <see cref="ConnectionSlots"/> sees it: busy (a request being read, carried out or
/// answered, a <c>wait</c> included) or idle (waiting for a request with no byte of one received), whether it was
/// closed to give its slot to a waiting agent, and ended (its slot given back; never closed after that). Idle and
/// closed are decided by one compare-and-set each way, so a request whose first bytes arrive as the connection is
/// closed is either served in full (it became busy first) or never looked at (it was closed first).
/// </summary>
internal sealed class PipeConnection(PipeStream stream, TimeProvider time)
{
    private const int Busy = 0, Idle = 1, Closed = 2, Ended = 3;
    private int _state = Busy;
    private long _idleSince;
    private long _admittedAt = time.GetTimestamp();
    private int _heard;
    private readonly CancellationTokenSource _closed = new();
    private ConnectionSlots? _slots;

    /// <summary>Cancelled once the connection was closed for a waiting agent: ends the read that waits for a request.</summary>
    public CancellationToken ClosedToken => _closed.Token;

    public bool IsClosed => Volatile.Read(ref _state) == Closed;

    public bool IsIdle => Volatile.Read(ref _state) == Idle;

    /// <summary>When it last became idle, as a <see cref="TimeProvider"/> timestamp; meaningful only while idle.</summary>
    public long IdleSince => Volatile.Read(ref _idleSince);

    public TimeSpan IdleFor => time.GetElapsedTime(IdleSince);

    /// <summary>Whether a byte of a request has come on this connection yet.</summary>
    public bool HasSentARequest => Volatile.Read(ref _heard) == 1;

    /// <summary>How long since the connection got its slot.</summary>
    public TimeSpan Age => time.GetElapsedTime(Volatile.Read(ref _admittedAt));

    internal void ServedBy(ConnectionSlots slots) => _slots = slots;

    /// <summary>It has a slot from now on: its grace before a first request (<see cref="ConnectionSlots.FirstRequestGrace"/>) starts.</summary>
    internal void Admitted() => Volatile.Write(ref _admittedAt, time.GetTimestamp());

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
    public bool TryBecomeBusy()
    {
        Volatile.Write(ref _heard, 1);
        return Interlocked.CompareExchange(ref _state, Busy, Idle) != Closed;
    }

    /// <summary>
    /// Input waiting in the socket (an agent that has sent (part of) a request is not idle, although its bytes are not
    /// read yet), or the socket already gone: either way not a connection to close for another. Never on Windows, where
    /// this service does not run.
    /// </summary>
    public bool HasUnreadInput()
    {
        if (OperatingSystem.IsWindows())
        {
            return false;
        }
        try
        {
            return (SocketPoll.Now(stream.SafePipeHandle, SocketPoll.PollIn) & (SocketPoll.PollIn | SocketPoll.PollHup)) != 0;
        }
        catch (Exception ex) when (ex is ObjectDisposedException or InvalidOperationException)
        {
            // The stream is closed (SafePipeHandle throws): the connection is ending and gives its slot back by itself.
            return true;
        }
    }

    /// <summary>Closes it if idle; only <see cref="ConnectionSlots"/> calls this, under its lock, then <see cref="SignalClosed"/> outside it.</summary>
    internal bool TryClose() => Interlocked.CompareExchange(ref _state, Closed, Idle) == Idle;

    /// <summary>
    /// The connection is over (only <see cref="ConnectionSlots"/> calls this, under its lock, before the stream is closed):
    /// it is never closed for another after this. True if it had been closed for a waiting agent.
    /// </summary>
    internal bool End() => Interlocked.Exchange(ref _state, Ended) == Closed;

    // The source is never disposed: it has no timer, and a close may be signalled after the connection ended.
    internal void SignalClosed() => _closed.Cancel();
}
