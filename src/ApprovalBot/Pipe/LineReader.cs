namespace ApprovalBot.Pipe;

/// <summary>
/// Reads newline-terminated lines from a stream without ever buffering more than the line limit, so a
/// client cannot make the service hold an unbounded request in memory. With a <see cref="PipeConnection"/>, it marks the
/// connection idle while it waits for a request with no byte of one buffered.
/// </summary>
internal sealed class LineReader(Stream stream, int maxLineBytes, PipeConnection? connection = null)
{
    private static int InitialSize(int maxLineBytes) => Math.Min(maxLineBytes + 1, 16 * 1024);

    private byte[] _buffer = new byte[InitialSize(maxLineBytes)];

    /// <summary>The read buffer's size now: back to its first size whenever nothing is buffered.</summary>
    internal int BufferSize => _buffer.Length;
    private int _start;
    private int _end;

    // The last line was refused as too large before its end was read.
    private bool _inRefusedLine;

    public enum Outcome
    {
        Line,
        EndOfStream,
        TooLarge,

        /// <summary>The connection was closed for a waiting agent while idle; what came since is not to be served.</summary>
        Closed,
    }

    /// <summary>The next line, without its terminator; valid until the next call.</summary>
    public async ValueTask<(Outcome Outcome, ReadOnlyMemory<byte> Line)> ReadAsync(CancellationToken cancellationToken)
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
            var read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
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
    /// Reads and discards what is left of a line refused as too large, up to its newline or the end of the stream, without
    /// buffering it: an agent blocked writing a long request can then finish its write and read the answer.
    /// </summary>
    public async ValueTask SkipRestOfRefusedLineAsync(CancellationToken cancellationToken)
    {
        if (!_inRefusedLine)
        {
            return;
        }
        _inRefusedLine = false;
        while (true)
        {
            var newline = _buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                _start += newline + 1;
                return;
            }
            _start = _end = 0;
            var read = await stream.ReadAsync(_buffer, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return;
            }
            _end = read;
        }
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
