namespace ApprovalBot.Pipe;

/// <summary>
/// Reads newline-terminated lines from a stream without ever buffering more than the line limit, so a
/// client cannot make the service hold an unbounded request in memory. With a <see cref="PipeConnection"/>, it marks the
/// connection idle while it waits for a request with no byte of one buffered. With a <paramref name="lineTimeout"/>, the
/// rest of a line it has part of must come within that time (<c>Pipe:LineTimeout</c>): a connection holding half a
/// line is busy, never closed for a waiting agent, so an agent that stopped mid-line held its slot until it hung up.
/// Waiting for a line's first byte has no limit: an idle connection between requests is a feature.
/// </summary>
/// <param name="time">The clock of <paramref name="lineTimeout"/>.</param>
internal sealed class LineReader(
    Stream stream, int maxLineBytes, PipeConnection? connection = null, TimeSpan? lineTimeout = null, TimeProvider? time = null)
{
    private static int InitialSize(int maxLineBytes) => Math.Min(maxLineBytes + 1, 16 * 1024);

    private byte[] _buffer = new byte[InitialSize(maxLineBytes)];

    /// <summary>The read buffer's size now: back to its first size whenever nothing is buffered.</summary>
    internal int BufferSize => _buffer.Length;
    private int _start;
    private int _end;

    // The last line was refused (too large, or timed out) before its end was read.
    private bool _inRefusedLine;

    // Cancelled once the line being read is overdue; null while no part of a line waits for its rest.
    private CancellationTokenSource? _lineDeadline;

    /// <summary>Bytes of the unfinished line buffered: after <see cref="Outcome.TimedOut"/>, how much of it had come.</summary>
    public int Buffered => _end - _start;

    public enum Outcome
    {
        Line,
        EndOfStream,
        TooLarge,

        /// <summary>The connection was closed for a waiting agent while idle; what came since is not to be served.</summary>
        Closed,

        /// <summary>Part of a line came, but not its end within the line timeout; the line is not to be served.</summary>
        TimedOut,
    }

    /// <summary>The next line, without its terminator; valid until the next call.</summary>
    public async ValueTask<(Outcome Outcome, ReadOnlyMemory<byte> Line)> ReadAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await ReadLineAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Whatever ended this read, the next line's time starts when a part of it waits for its rest.
            _lineDeadline?.Dispose();
            _lineDeadline = null;
        }
    }

    private async ValueTask<(Outcome Outcome, ReadOnlyMemory<byte> Line)> ReadLineAsync(CancellationToken cancellationToken)
    {
        var scanned = 0;
        while (true)
        {
            var pending = _buffer.AsSpan(_start + scanned, _end - _start - scanned);
            var newline = pending.IndexOf((byte)'\n');
            if (newline >= 0)
            {
                var length = scanned + newline;
                ReadOnlyMemory<byte> line = _buffer.AsMemory(_start, length);
                _start += length + 1;
                // The limit is on the request, not on its line end: "\r\n" is as good as "\n".
                line = TrimCarriageReturn(line);
                if (line.Length > maxLineBytes)
                {
                    return (Outcome.TooLarge, default);
                }
                return (Outcome.Line, line);
            }
            scanned = _end - _start;
            if (scanned > maxLineBytes && !(scanned == maxLineBytes + 1 && _buffer[_end - 1] == (byte)'\r'))
            {
                _inRefusedLine = true;
                return (Outcome.TooLarge, default);
            }
            MakeRoom();
            var idle = connection is not null && _end == _start;
            if (idle)
            {
                connection!.EnterIdle();
            }
            int read;
            if (_end > _start && lineTimeout is { } timeout)
            {
                // From when the reader first holds part of this line and waits for the rest: at its first byte, or, for
                // a line that came behind another, once that one is answered (a wait may take ten minutes).
                var deadline = _lineDeadline ??= new CancellationTokenSource(timeout, time ?? TimeProvider.System);
                using var readEnds = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
                try
                {
                    read = await stream.ReadAsync(_buffer.AsMemory(_end), readEnds.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    _inRefusedLine = true;
                    return (Outcome.TimedOut, default);
                }
            }
            else
            {
                read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            }
            if (idle && read > 0 && !connection!.TryBecomeBusy())
            {
                return (Outcome.Closed, default);
            }
            if (read == 0)
            {
                if (_end == _start)
                {
                    return (Outcome.EndOfStream, default);
                }
                // A last request without its newline is still a request.
                var last = _buffer.AsMemory(_start, _end - _start);
                _start = _end;
                return (Outcome.Line, TrimCarriageReturn(last));
            }
            _end += read;
        }
    }

    /// <summary>
    /// Reads and discards what is left of a line refused (too large, or timed out), up to its newline or the end of the
    /// stream, without buffering it: an agent blocked writing a long request can then finish its write and read the answer.
    /// It also stops once nothing has come for <paramref name="quietFor"/>, if given (real time: a stalled agent is not
    /// waited for), and once <paramref name="maxBytes"/> of the line, those already read included, are dropped.
    /// True once the line's newline was read.
    /// </summary>
    public async ValueTask<bool> SkipRestOfRefusedLineAsync(CancellationToken cancellationToken, TimeSpan? quietFor = null, long maxBytes = long.MaxValue)
    {
        if (!_inRefusedLine)
        {
            return false;
        }
        _inRefusedLine = false;
        using var quiet = quietFor is null ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var dropped = 0L;
        while (true)
        {
            var newline = _buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                _start += newline + 1;
                return true;
            }
            dropped += _end - _start;
            _start = _end = 0;
            // Past the line's own length limit, with room for its \r\n still to come: a line of exactly MaxLineBytes
            // whose end arrives in a later read is read to its end.
            if (dropped - 2 >= maxBytes)
            {
                return false;
            }
            quiet?.CancelAfter(quietFor!.Value);
            int read;
            try
            {
                read = await stream.ReadAsync(_buffer, quiet?.Token ?? cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (quiet is not null && !cancellationToken.IsCancellationRequested)
            {
                return false;
            }
            if (read == 0)
            {
                return false;
            }
            _end = read;
        }
    }

    /// <summary>
    /// Drops what is buffered, and what the agent goes on writing until nothing has come for <paramref name="quietFor"/>
    /// (real time) or its input ends: requests it sent behind a refused line in a write still under way. Ending receiving
    /// at the refused line's newline failed the rest of that write (EPIPE) mid-request, although the agent had written
    /// the refused line whole and was owed its answer.
    /// </summary>
    public async ValueTask DropWhileComingAsync(TimeSpan quietFor, CancellationToken cancellationToken)
    {
        _start = _end = 0;
        using var quiet = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        while (true)
        {
            quiet.CancelAfter(quietFor);
            try
            {
                if (await stream.ReadAsync(_buffer, quiet.Token).ConfigureAwait(false) == 0)
                {
                    return;
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Drops what is buffered and reads and drops the rest, up to the end of input. Once the service has ended its
    /// receiving (<see cref="HalfClose.Receiving"/>), that is what had come before, so nothing is left unread.
    /// </summary>
    public ValueTask DropRestAsync(CancellationToken cancellationToken)
    {
        _inRefusedLine = false;
        return DropWhileComingAsync(Timeout.InfiniteTimeSpan, cancellationToken);
    }

    private void MakeRoom()
    {
        if (_end == _start && _buffer.Length > InitialSize(maxLineBytes))
        {
            // Nothing buffered: a buffer grown for one long request is not kept for the connection's lifetime (up to
            // Pipe:MaxConnections of them at MaxLineBytes each, held by agents idle between drafts).
            _buffer = new byte[InitialSize(maxLineBytes)];
            _start = _end = 0;
            return;
        }
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Min(_buffer.Length * 2, maxLineBytes + 2));
        }
    }

    private static ReadOnlyMemory<byte> TrimCarriageReturn(ReadOnlyMemory<byte> line) =>
        line.Length > 0 && line.Span[^1] == (byte)'\r' ? line[..^1] : line;
}
