using Serilog.Core;
using Serilog.Debugging;
using Serilog.Events;

namespace ApprovalBot.Hosting;

/// <summary>
/// Hands log events to the real sinks (console, JSON file) on a thread of its own, so a request thread never
/// waits on a console write: writing every "Stored" line synchronously to stdout (a pipe to journald, Docker or
/// a parent process) cost about 0.3 ms of each submit's latency on 2 cores. Events keep their order; when the
/// queue is full the logging thread waits (back-pressure) rather than dropping a line. Disposing drains the
/// queue, then disposes the sinks.
/// The writer sleeps on a monitor the moment the queue is empty and takes everything queued in one swap: a
/// BlockingCollection spins before it sleeps, after every event, which cost 75–90 µs of CPU per submit (about
/// 15% of the host's CPU with 16 agents submitting) on the same two cores the submits need.
/// Once woken, the writer lingers (<see cref="DefaultLinger"/>) before it takes the queue, so a stream of events
/// costs one wake-up per linger instead of one per event: at 16 agents the log writer's wake-ups (and the waking of
/// it by the request threads) were ~15% of the host's CPU. A line reaches the console and the file at most that much
/// later; the ledger, not the log, is the durable record. After each batch it runs <c>afterBatch</c>, which sends
/// what a buffering sink (<see cref="BatchedConsoleSink"/>) holds.
/// </summary>
internal sealed class BackgroundLogSink : ILogEventSink, IDisposable
{
    private const int Capacity = 10_000;

    public static readonly TimeSpan DefaultLinger = TimeSpan.FromMilliseconds(20);

    private readonly object _gate = new();
    private readonly TimeSpan _linger;
    private readonly Action? _afterBatch;
    private readonly Logger _sinks;
    private readonly Thread _thread;
    private List<LogEvent> _queued = [];

    /// <summary>How many times the writer has taken the queue (for tests: events are written in few wake-ups).</summary>
    internal int Batches { get; private set; }
    private bool _completed;
    private bool _drained;

    public BackgroundLogSink(Logger sinks, Action? afterBatch = null) : this(sinks, DefaultLinger, afterBatch)
    {
    }

    internal BackgroundLogSink(Logger sinks, TimeSpan linger, Action? afterBatch = null)
    {
        _sinks = sinks;
        _linger = linger;
        _afterBatch = afterBatch;
        _thread = new Thread(Drain) { IsBackground = true, Name = "log-writer" };
        _thread.Start();
    }

    public void Emit(LogEvent logEvent)
    {
        lock (_gate)
        {
            while (_queued.Count >= Capacity && !_completed)
            {
                Monitor.Wait(_gate);
            }
            if (_drained)
            {
                // Logged after the writer thread finished (late shutdown messages): written here, still in order.
                _sinks.Write(logEvent);
                AfterBatch();
                return;
            }
            // While shutting down the queue may exceed its capacity: the writer is draining it for the last time.
            _queued.Add(logEvent);
            if (_queued.Count == 1 || _queued.Count == Capacity / 2)
            {
                // The first event wakes the writer; half a queue cuts its linger short, before loggers must wait.
                Monitor.PulseAll(_gate);
            }
        }
    }

    private void Drain()
    {
        while (true)
        {
            List<LogEvent> batch;
            lock (_gate)
            {
                while (_queued.Count == 0 && !_completed)
                {
                    Monitor.Wait(_gate);
                }
                // While the queue is non-empty only Dispose and the half-full mark pulse the gate, so this is one timed
                // wait, not a wake-up per event.
                if (!_completed && _linger > TimeSpan.Zero && _queued.Count < Capacity / 2)
                {
                    Monitor.Wait(_gate, _linger);
                }
                if (_queued.Count == 0)
                {
                    _drained = true;
                    return;
                }
                Batches++;
                batch = _queued;
                _queued = [];
                // Loggers waiting on a full queue may go on.
                Monitor.PulseAll(_gate);
            }
            foreach (var logEvent in batch)
            {
                _sinks.Write(logEvent);
            }
            AfterBatch();
        }
    }

    private void AfterBatch()
    {
        try
        {
            _afterBatch?.Invoke();
        }
        catch (Exception ex)
        {
            // As Serilog does for a failing sink: the writer thread must outlive a console that went away.
            SelfLog.WriteLine("Writing a batch of log events failed: {0}", ex);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _completed = true;
            Monitor.PulseAll(_gate);
        }
        if (!_thread.Join(TimeSpan.FromSeconds(10)))
        {
            lock (_gate)
            {
                // A sink hung: whatever is still queued is given up rather than holding up the exit.
                _drained = true;
            }
        }
        try
        {
            _sinks.Dispose();
        }
        catch (Exception ex)
        {
            // The file sink writes what it still buffers as it closes, and on a full disk that fails again. Thrown from
            // here (the host's disposal at exit) it replaced how the run ended: a clean stop exited 1, "could not run",
            // and an exception that had ended the run was lost behind it. Said once, on stderr: the sinks are closed.
            Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss} WRN] {typeof(BackgroundLogSink).FullName}: the log sinks failed as they closed; lines may be missing from the log file: {ex.Message}");
        }
    }
}
