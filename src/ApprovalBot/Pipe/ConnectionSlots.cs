using Microsoft.Extensions.Logging;

namespace ApprovalBot.Pipe;

/// <summary>
/// The <c>Pipe:MaxConnections</c> slots. An accepted connection takes a free slot; when there is none, the connection
/// idle the longest (see <see cref="PipeConnection"/>) is closed to make room, and the newcomer waits for that slot. A
/// busy connection is never closed: with every slot busy the newcomer waits until a connection ends or goes idle.
/// Neither is a new connection before its first request, for <see cref="FirstRequestGrace"/>: a one-shot agent
/// connects, then writes, and closing it in between only made it connect again. Freed slots go to waiting connections
/// in the order they came. Each newcomer closes at most one connection, and none when a slot is already on its way to
/// it, so a burst of newcomers does not empty the pool.
/// </summary>
internal sealed partial class ConnectionSlots(int maxConnections, TimeProvider time, ILogger logger)
{
    /// <summary>
    /// How long a new connection that has not sent a byte yet is not closed for another. Far longer than an agent takes
    /// from its connect to its first write, even on a loaded machine; short enough that a connection that never writes
    /// holds a waiting agent up only briefly.
    /// </summary>
    public static readonly TimeSpan FirstRequestGrace = TimeSpan.FromSeconds(2);

    private static readonly TimeSpan WarnEvery = TimeSpan.FromMinutes(1);

    private readonly Lock _lock = new();
    private readonly HashSet<PipeConnection> _served = [];
    private readonly LinkedList<Waiter> _waiting = [];
    // Closed for a waiting connection, their slots not given back yet.
    private int _closing;
    // Waiting connections no closed connection's slot is on its way to; read without the lock by connections going idle.
    private int _short;
    // Set while a waiting agent could be served only by a connection still in its grace: looks again once it is over.
    private ITimer? _graceTimer;
    private long? _graceLookAt;
    private readonly WarningThrottle _closedWarnings = new(time, WarnEvery);
    private readonly WarningThrottle _busyWarnings = new(time, WarnEvery);

    /// <summary>
    /// Waits for a slot for <paramref name="connection"/>, closing an idle connection for it if every slot is taken.
    /// Throws <see cref="OperationCanceledException"/> (holding no slot) when <paramref name="cancellationToken"/> ends the
    /// wait; whatever else ends it, it leaves no claim on a slot behind.
    /// </summary>
    public async Task AdmitAsync(PipeConnection connection, CancellationToken cancellationToken)
    {
        connection.ServedBy(this);
        Waiter waiter;
        lock (_lock)
        {
            if (_served.Count < maxConnections)
            {
                _served.Add(connection);
                connection.Admitted();
                return;
            }
            waiter = new Waiter(connection);
            waiter.Node = _waiting.AddLast(waiter);
            UpdateShortLocked();
        }
        try
        {
            MakeRoom();
            await waiter.Admitted.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            lock (_lock)
            {
                if (waiter.Node.List is not null)
                {
                    _waiting.Remove(waiter.Node);
                    UpdateShortLocked();
                    throw;
                }
            }
            // Admitted at the same moment: give the slot on.
            Release(connection);
            throw;
        }
    }

    /// <summary>For a newcomer just queued: closes an idle connection, unless a slot is on its way to every agent waiting.</summary>
    private void MakeRoom()
    {
        PipeConnection? closed = null;
        var busy = false;
        lock (_lock)
        {
            if (_short > 0)
            {
                closed = CloseLongestIdleLocked();
                busy = closed is null;
            }
        }
        if (closed is not null)
        {
            Closed(closed);
        }
        else if (busy)
        {
            AllBusy();
        }
    }

    /// <summary>The connection has ended: its slot goes to the connection waiting longest, if any. Call it before closing the stream.</summary>
    public void Release(PipeConnection connection)
    {
        Waiter? next = null;
        lock (_lock)
        {
            // Ended first, under the lock: no look for an idle connection sees it once its stream may be gone.
            var wasClosed = connection.End();
            if (!_served.Remove(connection))
            {
                return;
            }
            if (wasClosed)
            {
                _closing--;
            }
            if (_waiting.First is { } first)
            {
                next = first.Value;
                _waiting.RemoveFirst();
                _served.Add(next.Connection);
                next.Connection.Admitted();
            }
            UpdateShortLocked();
        }
        next?.Admitted.TrySetResult();
    }

    /// <summary>A served connection went idle: if a connection waits with no slot on its way, one idle connection makes room.</summary>
    internal void BecameIdle()
    {
        if (Volatile.Read(ref _short) <= 0)
        {
            return;
        }
        LookAgain();
    }

    private void LookAgain()
    {
        PipeConnection? closed;
        lock (_lock)
        {
            closed = _short > 0 ? CloseLongestIdleLocked() : null;
        }
        if (closed is not null)
        {
            Closed(closed);
        }
    }

    private PipeConnection? CloseLongestIdleLocked()
    {
        TimeSpan? graceLeft = null;
        // Sorted once per close, and only when every slot is taken: a scan of at most Pipe:MaxConnections.
        foreach (var candidate in _served.OrderBy(c => c.IdleSince))
        {
            if (!candidate.IsIdle)
            {
                continue;
            }
            if (!candidate.HasSentARequest && FirstRequestGrace - candidate.Age is var left && left > TimeSpan.Zero)
            {
                graceLeft = graceLeft is { } g && g < left ? g : left;
                continue;
            }
            // About to become busy: input has come that the connection has not read yet.
            if (candidate.HasUnreadInput() || !candidate.TryClose())
            {
                continue;
            }
            _closing++;
            UpdateShortLocked();
            return candidate;
        }
        if (graceLeft is { } wait)
        {
            LookAgainLocked(wait);
        }
        return null;
    }

    /// <summary>Looks for a connection to close again in <paramref name="wait"/>, when a new connection's grace is over.</summary>
    private void LookAgainLocked(TimeSpan wait)
    {
        var at = time.GetTimestamp() + (long)(wait.TotalSeconds * time.TimestampFrequency);
        if (_graceLookAt is { } armed && armed <= at)
        {
            return;
        }
        _graceLookAt = at;
        if (_graceTimer is null)
        {
            _graceTimer = time.CreateTimer(static slots => ((ConnectionSlots)slots!).GraceOver(), this, wait, Timeout.InfiniteTimeSpan);
        }
        else
        {
            _graceTimer.Change(wait, Timeout.InfiniteTimeSpan);
        }
    }

    private void GraceOver()
    {
        lock (_lock)
        {
            _graceLookAt = null;
        }
        LookAgain();
    }

    // Interlocked for its full fence: either a connection going idle sees the shortfall, or the look for an idle one sees it.
    private void UpdateShortLocked() => Interlocked.Exchange(ref _short, _waiting.Count - _closing);

    private void Closed(PipeConnection connection)
    {
        var idleFor = connection.IdleFor;
        connection.SignalClosed();
        if (_closedWarnings.ShouldLog(out var suppressed))
        {
            LogIdleClosed(logger, Math.Round(idleFor.TotalSeconds, 1), maxConnections, suppressed);
        }
    }

    private void AllBusy()
    {
        if (_busyWarnings.ShouldLog(out var suppressed))
        {
            LogAllBusy(logger, maxConnections, suppressed);
        }
    }

    private sealed class Waiter(PipeConnection connection)
    {
        public PipeConnection Connection { get; } = connection;

        public TaskCompletionSource Admitted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public LinkedListNode<Waiter> Node { get; set; } = null!;
    }

    [LoggerMessage(Level = LogLevel.Warning, EventName = "PipeIdleConnectionClosed", Message =
        "Closed an idle agent connection (idle {IdleSeconds} s) to serve an agent waiting to connect: all {MaxConnections} " +
        "connections of Pipe:MaxConnections were taken. Its agent is told and reconnects with its next request (the .NET " +
        "client by itself); raise Pipe:MaxConnections if agents keep more connections open. {Suppressed} more since the last such warning")]
    private static partial void LogIdleClosed(ILogger logger, double idleSeconds, int maxConnections, int suppressed);

    [LoggerMessage(Level = LogLevel.Warning, EventName = "PipeConnectionsBusy", Message =
        "An agent waits to connect: all {MaxConnections} connections of Pipe:MaxConnections are busy (a request or a wait " +
        "under way, or connected within the last 2 s and yet to send its first request), none idle to close; it is served " +
        "once one ends or goes idle. Raise Pipe:MaxConnections if this recurs. {Suppressed} more since the last such warning")]
    private static partial void LogAllBusy(ILogger logger, int maxConnections, int suppressed);
}
