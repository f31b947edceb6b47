using System.Text;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;

namespace ApprovalBot.Hosting;

/// <summary>
/// Console lines for a redirected stdout (journald, Docker, a parent process), written in one write per batch of
/// <see cref="BackgroundLogSink"/> instead of one per line: Serilog's console sink flushes after every event, so each
/// submit's "Stored" line was a write system call that also woke the reader of the pipe, and at a few thousand submits
/// a second those bursts competing for 2 cores were what set a single agent's p99 (0.8 ms against 0.6 ms batched,
/// docs/PERFORMANCE.md). A terminal keeps Serilog's console sink and its colours.
/// </summary>
internal sealed class BatchedConsoleSink(ITextFormatter formatter, Stream output) : ILogEventSink, IDisposable
{
    private readonly StreamWriter _writer = new(output, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), 64 * 1024, leaveOpen: true)
    {
        AutoFlush = false,
    };

    // Uncontended but for one case: a log writer that hung past BackgroundLogSink's 10 s at shutdown, still writing
    // while late events are written on the callers' threads.
    private readonly Lock _gate = new();

    /// <summary>Formats the line into the buffer; it reaches the console at the next <see cref="Flush"/> (or when 64 KB have built up).</summary>
    public void Emit(LogEvent logEvent)
    {
        lock (_gate)
        {
            formatter.Format(logEvent, _writer);
        }
    }

    public void Flush()
    {
        lock (_gate)
        {
            _writer.Flush();
        }
    }

    public void Dispose()
    {
        try
        {
            lock (_gate)
            {
                _writer.Dispose();
            }
        }
        catch (IOException)
        {
            // The reader of stdout has gone: nothing left to tell it.
        }
    }
}
