using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Drafts;

/// <summary>
/// The single writer. Writes queue here; the writer drains whatever is waiting into one transaction
/// (group commit: one fsync acknowledges the whole batch) and completes each write only after COMMIT
/// returned. Each write runs under its own savepoint, so one failing write does not undo its neighbours.
/// </summary>
internal sealed partial class DraftWriter : IAsyncDisposable
{
    private readonly SqliteDatabase _database;
    private readonly DraftSignals _signals;
    private readonly TimeProvider _time;
    private readonly ILogger<DraftWriter> _logger;
    private readonly int _maxBatch;
    private readonly Channel<IWrite> _queue = Channel.CreateUnbounded<IWrite>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _loop;
    private readonly Channel<bool> _checkpointWake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly Task _checkpointLoop;
    private SqliteConnection? _connection;
    private StatementCache? _statements;
    private long _commits;
    private int _commitsSinceCheckpoint;

    /// <summary>Transactions committed so far; with concurrent writers it stays well below the number of writes.</summary>
    public long Commits => Interlocked.Read(ref _commits);

    public DraftWriter(SqliteDatabase database, DraftSignals signals, TimeProvider time, IOptions<StoreOptions> options, ILogger<DraftWriter> logger)
    {
        _database = database;
        _signals = signals;
        _time = time;
        _logger = logger;
        _maxBatch = options.Value.MaxBatch;
        _loop = Task.Factory.StartNew(RunAsync, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
        _checkpointLoop = Task.Run(CheckpointLoopAsync);
    }

    /// <summary>Commits between two background checkpoints (a submit adds about 8-10 pages to the WAL).</summary>
    internal const int CheckpointEveryCommits = 100;

    /// <summary>Runs <paramref name="work"/> in the next batch; the task completes once its batch is committed.</summary>
    public Task<T> WriteAsync<T>(Func<WriteContext, T> work, CancellationToken cancellationToken = default)
    {
        var write = new Write<T>(work);
        if (!_queue.Writer.TryWrite(write))
        {
            throw new StoreUnavailableException("The store is shutting down.");
        }
        return write.Completion.Task.WaitAsync(cancellationToken);
    }

    private async Task RunAsync()
    {
        var batch = new List<IWrite>(_maxBatch);
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < _maxBatch && _queue.Reader.TryRead(out var write))
            {
                batch.Add(write);
            }
            Commit(batch);
        }
    }

    private void Commit(List<IWrite> batch)
    {
        WriteContext context;
        try
        {
            if (_connection is null)
            {
                _connection = _database.Open();
                // Checkpoints run beside the writer (CheckpointLoopAsync), not inside the commit that crosses the
                // threshold: an automatic checkpoint copies and fsyncs the database file on the commit path.
                using (var pragma = _connection.CreateCommand())
                {
                    pragma.CommandText = "PRAGMA wal_autocheckpoint=0;";
                    pragma.ExecuteNonQuery();
                }
                _statements = new StatementCache(_connection);
            }
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
            LogCommitFailed(ex, batch.Count);
            _statements?.Dispose();
            _statements = null;
            _connection?.Dispose();
            _connection = null;
            var failure = new StoreUnavailableException("The store could not commit: " + ex.Message, ex);
            foreach (var write in batch)
            {
                write.Abandon(failure);
            }
            return;
        }

        foreach (var write in batch)
        {
            write.Acknowledge();
        }
        if (++_commitsSinceCheckpoint >= CheckpointEveryCommits)
        {
            _commitsSinceCheckpoint = 0;
            _checkpointWake.Writer.TryWrite(true);
        }
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

    /// <summary>
    /// PASSIVE checkpoints on a connection of their own: they copy committed WAL frames into the database file
    /// while the writer goes on committing (WAL allows one checkpointer beside one writer), so the WAL stays short
    /// without any write waiting for the copy. Failures (disk full) are logged; the next wake-up tries again.
    /// </summary>
    private async Task CheckpointLoopAsync()
    {
        SqliteConnection? connection = null;
        try
        {
            while (await _checkpointWake.Reader.WaitToReadAsync().ConfigureAwait(false))
            {
                _checkpointWake.Reader.TryRead(out _);
                try
                {
                    connection ??= _database.Open();
                    using var cmd = connection.CreateCommand();
                    cmd.CommandText = "PRAGMA wal_checkpoint(PASSIVE);";
                    cmd.ExecuteNonQuery();
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
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
        _checkpointWake.Writer.TryComplete();
        await _checkpointLoop.ConfigureAwait(false);
        _statements?.Dispose();
        _statements = null;
        _connection?.Dispose();
        _connection = null;
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
