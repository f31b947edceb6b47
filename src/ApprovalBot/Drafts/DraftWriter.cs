using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Drafts;

/// <summary>
/// The single writer. Writes queue here and are committed in batches (group commit: one fsync acknowledges the
/// whole batch); each write completes only after COMMIT returned. Each write runs under its own savepoint, so one
/// failing write does not undo its neighbours.
/// <para>
/// Who commits: when no commit is running, the caller commits its own write at once, on its own thread. Handing
/// it to a writer thread and the result back cost two thread wake-ups (a channel and a task continuation, each a
/// thread-pool work item) on every uncontended write. Writes that arrive while a commit runs queue; the committer
/// then hands the queue to the writer thread (<see cref="RunHandOffs"/>), which commits it in batches until it is
/// empty, so a caller that committed gets its answer without waiting for others' writes, and concurrent writers
/// still share fsyncs. Only one batch commits at a time, and listeners are told of changes in commit order.
/// </para>
/// </summary>
internal sealed partial class DraftWriter : IAsyncDisposable
{
    /// <summary>
    /// Commits between two background checkpoints. The first commit after the WAL starts over also syncs the new WAL
    /// header, a second fsync, so one commit in this many takes about twice as long: at 100 that was 1% of commits,
    /// exactly the p99 of a steady stream (0.62 against 0.25 ms for the rest's p99 here). At 400 it is 0.25%, and the
    /// WAL peaks at ~12 MB for single submits (7 pages each) and a few times that under batches of concurrent agents.
    /// </summary>
    internal const int CheckpointEveryCommits = 400;

    /// <summary>
    /// Writes between two background checkpoints, whatever the commits: concurrent agents' commits carry batches of
    /// writes, and the WAL grows with the writes, not the commits (16 agents: ~8 writes a commit, a checkpoint about
    /// every 240 commits, still out of the p99).
    /// </summary>
    internal const int CheckpointEveryWrites = 2000;

    /// <summary>
    /// The WAL file is cut back to this size when it starts over: it otherwise keeps the size of its largest burst
    /// until the next start. Above what a steady stream needs, so the steady state never pays for regrowing it.
    /// </summary>
    internal const long WalSizeLimitBytes = 64L * 1024 * 1024;

    private readonly SqliteDatabase _database;
    private readonly DraftSignals _signals;
    private readonly TimeProvider _time;
    private readonly ILogger<DraftWriter> _logger;
    private readonly int _maxBatch;
    // Guards the queue and the commit role. Monitor rather than Lock for Wait/Pulse, which block without spinning:
    // a spinning waiter takes the CPU the committer needs on 2 cores.
    private readonly object _gate = new();
    private readonly Queue<IWrite> _queue = new();
    private bool _committing;
    private bool _handedOff;
    private bool _closed;
    private volatile bool _catchUpDue;
    private readonly Thread _writerThread;
    private readonly TaskCompletionSource _writerStopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _checkpointGate = new();
    private bool _checkpointDue;
    private bool _checkpointsStop;
    private readonly Thread _checkpointThread;
    private SqliteConnection? _connection;
    private StatementCache? _statements;
    private long _commits;
    private long _catchUps;
    private long _checkpoints;
    private int _commitsSinceCheckpoint;
    private int _writesSinceCheckpoint;

    /// <summary>Transactions committed so far; with concurrent writers it stays well below the number of writes.</summary>
    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>Catch-up checkpoints the writer has run (see <see cref="CatchUp"/>).</summary>
    internal long CatchUps => Interlocked.Read(ref _catchUps);

    /// <summary>Writes waiting for a commit to take them.</summary>
    internal int Queued
    {
        get
        {
            lock (_gate) return _queue.Count;
        }
    }

    /// <summary>Background checkpoints run so far (see <see cref="RunCheckpoints"/>).</summary>
    internal long Checkpoints => Interlocked.Read(ref _checkpoints);

    public DraftWriter(SqliteDatabase database, DraftSignals signals, TimeProvider time, IOptions<StoreOptions> options, ILogger<DraftWriter> logger)
    {
        _database = database;
        _signals = signals;
        _time = time;
        _logger = logger;
        _maxBatch = options.Value.MaxBatch;
        _writerThread = new Thread(RunHandOffs) { IsBackground = true, Name = "store-writer" };
        _writerThread.Start();
        _checkpointThread = new Thread(RunCheckpoints) { IsBackground = true, Name = "store-checkpoint" };
        _checkpointThread.Start();
    }

    /// <summary>
    /// Runs <paramref name="work"/> in the next batch; the task completes once its batch is committed or refused.
    /// There is no cancellation: a write is over within a commit or two (shutdown drains the queue), and its caller
    /// must always learn which way it went. Giving up on the answer told callers "cancelled" about writes that were
    /// stored (an agent answered unavailable for a draft it had submitted, a pull executor for drafts it had just
    /// claimed), and refusing a write once the service is stopping would lose the record of something already
    /// done outside (a card sent, a tap answered).
    /// </summary>
    public Task<T> WriteAsync<T>(Func<WriteContext, T> work)
    {
        var write = new Write<T>(work);
        bool lead;
        lock (_gate)
        {
            if (_closed)
            {
                throw new StoreUnavailableException("The store is shutting down.");
            }
            _queue.Enqueue(write);
            lead = !_committing;
            _committing = true;
        }
        if (lead)
        {
            Lead();
        }
        return write.Completion.Task;
    }

    /// <summary>Commits one batch on the caller's thread, then gives the commit role up, or to the writer thread.</summary>
    private void Lead()
    {
        try
        {
            Commit(TakeBatch());
        }
        finally
        {
            lock (_gate)
            {
                if (_queue.Count == 0 && !_catchUpDue)
                {
                    _committing = false;
                    if (_closed) Monitor.PulseAll(_gate);
                }
                else
                {
                    _handedOff = true;
                    Monitor.PulseAll(_gate);
                }
            }
        }
    }

    private List<IWrite> TakeBatch()
    {
        lock (_gate)
        {
            var batch = new List<IWrite>(Math.Min(_queue.Count, _maxBatch));
            while (batch.Count < _maxBatch && _queue.TryDequeue(out var write))
            {
                batch.Add(write);
            }
            return batch;
        }
    }

    /// <summary>
    /// The writer thread: takes the commit role when a committer hands it over, and commits what queued behind that
    /// commit, batch after batch, until nothing is left; also runs the checkpoint catch-up.
    /// </summary>
    private void RunHandOffs()
    {
        try
        {
            while (true)
            {
                lock (_gate)
                {
                    while (!_handedOff)
                    {
                        if (_closed && !_committing)
                        {
                            return;
                        }
                        Monitor.Wait(_gate);
                    }
                }
                while (true)
                {
                    if (_catchUpDue)
                    {
                        CatchUp();
                    }
                    var batch = TakeBatch();
                    if (batch.Count > 0)
                    {
                        Commit(batch);
                    }
                    lock (_gate)
                    {
                        if (_queue.Count == 0 && !_catchUpDue)
                        {
                            _handedOff = false;
                            _committing = false;
                            break;
                        }
                    }
                }
            }
        }
        finally
        {
            _writerStopped.TrySetResult();
        }
    }

    private void Commit(List<IWrite> batch)
    {
        WriteContext context;
        try
        {
            _connection ??= OpenWriterConnection();
            using var transaction = _connection.BeginTransaction();
            context = new WriteContext(_connection, transaction, _time.GetUtcNow(), _statements);
            foreach (var write in batch)
            {
                write.Run(context);
            }
            transaction.Commit();
            Interlocked.Increment(ref _commits);
        }
        catch (Exception ex)
        {
            // Disk full, read-only, I/O error: nothing of the batch is kept. Drop the connection so the next
            // batch starts clean, which is how the store recovers by itself once the disk is writable again.
            try
            {
                LogCommitFailed(ex, batch.Count);
                DropConnection();
            }
            finally
            {
                // Whatever else fails here, every caller gets its answer: writes cannot be cancelled, so an
                // unanswered one would wait for ever.
                foreach (var write in batch)
                {
                    // One exception each: callers rethrow it, and a shared one would collect every caller's stack trace.
                    write.Abandon(new StoreUnavailableException("The store could not commit: " + ex.Message, ex));
                }
            }
            return;
        }

        foreach (var write in batch)
        {
            write.Acknowledge();
        }
        _writesSinceCheckpoint += batch.Count;
        if (++_commitsSinceCheckpoint >= CheckpointEveryCommits || _writesSinceCheckpoint >= CheckpointEveryWrites)
        {
            _commitsSinceCheckpoint = 0;
            _writesSinceCheckpoint = 0;
            lock (_checkpointGate)
            {
                _checkpointDue = true;
                Monitor.Pulse(_checkpointGate);
            }
        }
        // Still holding the commit role: listeners see changes in commit order, as with a single writer thread.
        foreach (var change in context.Changes)
        {
            try
            {
                _signals.Publish(change);
            }
            catch (Exception ex)
            {
                LogSignalFailed(ex, change.Id);
            }
        }
    }

    private SqliteConnection OpenWriterConnection()
    {
        var connection = _database.OpenDedicated();
        try
        {
            // Checkpoints run beside the writer (RunCheckpoints), not inside the commit that crosses the
            // threshold: an automatic checkpoint copies and fsyncs the database file on the commit path.
            using (var pragma = connection.CreateCommand())
            {
                pragma.CommandText = $"PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit={WalSizeLimitBytes};";
                pragma.ExecuteNonQuery();
            }
            _statements = new StatementCache(connection);
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private void DropConnection()
    {
        _statements?.Dispose();
        _statements = null;
        _connection?.Dispose();
        _connection = null;
    }

    /// <summary>
    /// Checkpoints, on the writer's connection between two commits, the few frames committed while the background
    /// checkpoint ran, so that the WAL is wholly in the database file when the next commit begins: only then does
    /// SQLite start the WAL over from its beginning. Under a steady stream of writes the background checkpoint never
    /// catches up by itself (a commit always lands while it copies), the WAL then grew without end (tens of MB within
    /// seconds) and every commit appended to it; an append is a file extension, whose fsync also writes the new
    /// block allocation: +0.13 ms on every commit here, about the cost of the fsync itself. Writes that arrive
    /// meanwhile wait for it (a copy of a few dozen pages and one fsync, once per <see cref="CheckpointEveryCommits"/>).
    /// </summary>
    private void CatchUp()
    {
        _catchUpDue = false;
        try
        {
            _connection ??= OpenWriterConnection();
            using var cmd = _connection.CreateCommand();
            cmd.CommandText = "PRAGMA wal_checkpoint(PASSIVE);";
            cmd.ExecuteNonQuery();
            Interlocked.Increment(ref _catchUps);
        }
        catch (Exception ex)
        {
            // The next commit reports a broken connection itself; a checkpoint that failed is only retried later.
            LogCheckpointFailed(ex);
        }
    }

    /// <summary>
    /// PASSIVE checkpoints on a connection and a thread of their own: they copy committed WAL frames into the
    /// database file while the writer goes on committing (WAL allows one checkpointer beside one writer), so no write
    /// waits for the bulk of the copy; the writer then catches up the rest (<see cref="CatchUp"/>). A thread rather
    /// than a thread-pool loop: its wake-up, queued from a committing thread, could otherwise wait behind that
    /// thread's own work. Failures (disk full) are logged; the next wake-up tries again.
    /// </summary>
    private void RunCheckpoints()
    {
        SqliteConnection? connection = null;
        try
        {
            while (true)
            {
                lock (_checkpointGate)
                {
                    while (!_checkpointDue && !_checkpointsStop)
                    {
                        Monitor.Wait(_checkpointGate);
                    }
                    if (_checkpointsStop)
                    {
                        return;
                    }
                    _checkpointDue = false;
                }
                try
                {
                    connection ??= _database.OpenDedicated();
                    using var cmd = connection.CreateCommand();
                    cmd.CommandText = "PRAGMA wal_checkpoint(PASSIVE);";
                    cmd.ExecuteNonQuery();
                    Interlocked.Increment(ref _checkpoints);
                    _catchUpDue = true;
                }
                catch (Exception ex)
                {
                    LogCheckpointFailed(ex);
                    connection?.Dispose();
                    connection = null;
                }
            }
        }
        finally
        {
            connection?.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Writes already queued are still committed (the writer thread drains them); new ones are refused.
        lock (_gate)
        {
            _closed = true;
            Monitor.PulseAll(_gate);
        }
        await _writerStopped.Task.ConfigureAwait(false);
        lock (_checkpointGate)
        {
            _checkpointsStop = true;
            Monitor.Pulse(_checkpointGate);
        }
        // A checkpoint copies at most a few MB; waiting for it keeps its connection from outliving the store.
        await Task.Run(_checkpointThread.Join).ConfigureAwait(false);
        DropConnection();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Background WAL checkpoint failed; retried after the next commits")]
    private partial void LogCheckpointFailed(Exception ex);

    [LoggerMessage(Level = LogLevel.Error, Message = "Store commit failed; {Count} writes answered unavailable")]
    private partial void LogCommitFailed(Exception ex, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "A listener failed on the change of {DraftId}")]
    private partial void LogSignalFailed(Exception ex, string draftId);

    private interface IWrite
    {
        void Run(WriteContext context);

        void Acknowledge();

        void Abandon(Exception failure);
    }

    private sealed class Write<T>(Func<WriteContext, T> work) : IWrite
    {
        private T? _result;
        private Exception? _error;

        public TaskCompletionSource<T> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Run(WriteContext context)
        {
            var published = context.Changes.Count;
            context.Execute("SAVEPOINT w");
            try
            {
                _result = work(context);
                context.Execute("RELEASE w");
            }
            catch (Exception ex) when (ex is not SqliteException { SqliteErrorCode: 13 or 10 or 8 })
            {
                // A failure of this write alone (a constraint, a refused transition): undo it, keep the batch.
                // Disk full (13), I/O (10) and read-only (8) fail the whole batch instead.
                context.Execute("ROLLBACK TO w");
                context.Execute("RELEASE w");
                context.ResetChanges(published);
                _error = ex;
            }
        }

        public void Acknowledge()
        {
            if (_error is null)
            {
                Completion.TrySetResult(_result!);
            }
            else
            {
                Completion.TrySetException(_error);
            }
        }

        public void Abandon(Exception failure) => Completion.TrySetException(failure);
    }
}
