using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Drafts;

/// <summary>
/// Opens connections to <c>approvals.db</c> with the durability settings on every one of them
/// (WAL, <c>synchronous=FULL</c>, foreign keys, busy timeout), and holds the lock that makes this
/// process the database's only writer.
/// </summary>
internal sealed class SqliteDatabase : IDisposable
{
    private readonly string _connectionString;
    private readonly string _dedicatedConnectionString;
    private readonly int _busyTimeoutMs;
    private FileStream? _writerLock;

    public SqliteDatabase(IOptions<StoreOptions> options)
    {
        var o = options.Value;
        DatabasePath = o.DatabasePath;
        _busyTimeoutMs = o.BusyTimeoutMs;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = DatabasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            ForeignKeys = true,
            DefaultTimeout = Math.Max(1, o.BusyTimeoutMs / 1000),
        }.ToString();
        _dedicatedConnectionString = new SqliteConnectionStringBuilder(_connectionString) { Pooling = false }.ToString();
    }

    public string DatabasePath { get; }

    /// <summary>
    /// Takes the single-writer lock (creating the folder for it), unless held already: a second live instance on the
    /// same data directory is refused here instead of writing beside the first. Taken on its own before the host starts
    /// (a <see cref="Hosting.StartupLock"/>), so no approvals.db is created for a start that another lock refuses.
    /// </summary>
    public void TakeLock()
    {
        if (_writerLock is not null)
        {
            return;
        }
        var directory = Path.GetDirectoryName(DatabasePath)!;
        try
        {
            Folders.CreateDurably(directory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new StartupRefusedException($"ApprovalBot:DataDirectory '{directory}' cannot be used: {ex.Message}", ex);
        }
        var lockPath = StoreLock.PathOf(DatabasePath);
        try
        {
            _writerLock = StoreLock.TryTake(DatabasePath) ?? throw new StartupRefusedException(
                $"Another ApprovalBot process is using the data directory '{directory}' (lock '{lockPath}' is held). Stop it, or give this instance its own ApprovalBot:DataDirectory.");
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new StartupRefusedException($"ApprovalBot:DataDirectory '{directory}' cannot be used: this OS user may not write its lock '{lockPath}'.", ex);
        }
        catch (IOException ex)
        {
            throw new StartupRefusedException($"ApprovalBot:DataDirectory '{directory}' cannot be used: its lock '{lockPath}' cannot be opened: {ex.Message}", ex);
        }
    }

    /// <summary>Takes the single-writer lock (<see cref="TakeLock"/>) if not held yet and brings the schema up to date.</summary>
    public void Initialize()
    {
        TakeLock();
        var directory = Path.GetDirectoryName(DatabasePath)!;
        var restoring = StoreLock.RestoringPathOf(DatabasePath);
        var replacing = StoreLock.ReplacingPathOf(DatabasePath);
        if (Directory.Exists(replacing))
        {
            // The old store may be split between that folder and this one: neither is a store to open.
            throw new StartupRefusedException(
                $"A restore into '{directory}' did not finish: it was moving the store it replaces into '{replacing}'. Run the restore again (ApprovalBot restore <backup>).");
        }
        if (File.Exists(restoring))
        {
            // Opening approvals.db now could create an empty store where the restore had moved the old one aside.
            throw new StartupRefusedException(File.Exists(DatabasePath)
                ? $"A restore into '{directory}' did not finish ('{restoring}' is there). Run the restore again (ApprovalBot restore <backup>), or delete that file to keep the store as it is."
                : $"A restore into '{directory}' did not finish: '{restoring}' is there and approvals.db is not (the store it replaced is in a replaced-* folder there). Run the restore again (ApprovalBot restore <backup>).");
        }
        try
        {
            UpgradeAndFold();
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode is SqliteFull or SqliteIoError)
        {
            // The host would stop with SQLite's bare code and a stack trace. Nothing is lost: a step of the schema or the
            // checkpoint that could not finish is rolled back, or taken up again, at the next start.
            throw new StartupRefusedException(
                $"The store '{DatabasePath}' cannot be opened, and was left as it is: {DiskProblem(ex, directory)}, then start ApprovalBot again (a supervisor's restart-on-failure does).", ex);
        }
    }

    private const int SqliteIoError = 10;
    private const int SqliteFull = 13;
    private const int SqliteIoErrorShmOpen = SqliteIoError | (18 << 8);
    private const int SqliteIoErrorShmSize = SqliteIoError | (19 << 8);

    /// <summary>Opens the store in WAL mode, brings its schema up to date and folds in the WAL a killed process left.</summary>
    private void UpgradeAndFold()
    {
        using var connection = OpenOwnFile();
        using (var cmd = connection.CreateCommand())
        {
            cmd.CommandText = "PRAGMA journal_mode=WAL;";
            var mode = cmd.ExecuteScalar() as string;
            if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException($"SQLite refused WAL mode for '{DatabasePath}' (got '{mode}').");
            }
        }
        SchemaMigrations.Apply(connection);
        // A process killed by SIGKILL leaves its WAL behind, and after recovery SQLite no longer knows which of its
        // frames are already in the database file, so the next checkpoints start from its beginning; killed again
        // before they finish (a crash loop), the WAL only grew, by hundreds of MB. Nobody else reads yet, so this
        // copies it all once and truncates it, and every start begins with an empty WAL.
        using (var cmd = connection.CreateCommand())
        {
            cmd.CommandText = "PRAGMA wal_checkpoint(TRUNCATE);";
            cmd.ExecuteNonQuery();
        }
    }

    /// <summary>
    /// What an I/O failure opening the store most likely means. SQLite names no errno: a write it could not make is
    /// SQLITE_FULL, and the shared-memory file approvals.db-shm, which the first connection of each start sizes afresh,
    /// failing to take its size is SQLITE_IOERR_SHMOPEN or SQLITE_IOERR_SHMSIZE, whose usual cause is a full disk as well.
    /// </summary>
    private static string DiskProblem(SqliteException ex, string directory) => ex switch
    {
        { SqliteErrorCode: SqliteFull } =>
            $"the disk holding '{directory}' is full ({ex.Message}). Free space there",
        { SqliteExtendedErrorCode: SqliteIoErrorShmOpen or SqliteIoErrorShmSize } =>
            $"SQLite could not size its shared-memory file approvals.db-shm, most likely because the disk holding '{directory}' is full ({ex.Message}). Free space there",
        _ => $"a disk I/O error ({ex.Message}); the disk holding '{directory}' may be full or failing. Check its free space (df) and the kernel log (dmesg)",
    };

    /// <summary>
    /// A connection to approvals.db once it is known to be a store or a new file, checked before WAL mode is set:
    /// switching would already change another program's file.
    /// </summary>
    private SqliteConnection OpenOwnFile()
    {
        string? reason;
        SqliteConnection? connection = null;
        try
        {
            connection = Open();
            reason = SchemaMigrations.NotAStoreBecause(connection);
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode is 26 /* SQLITE_NOTADB */)
        {
            // Also what a store whose first page is damaged says: moving it away would start an empty store.
            reason = "it is not an SQLite database, or it is this service's store damaged past opening: then restore the latest backup into this folder (ApprovalBot restore <backup>) rather than move it";
        }
        catch
        {
            connection?.Dispose();
            throw;
        }
        if (reason is null)
        {
            return connection!;
        }
        connection?.Dispose();
        throw new StartupRefusedException(
            $"'{DatabasePath}' is not an ApprovalBot store ({reason}); it was left as it is. Move it out of the data directory, or set ApprovalBot:DataDirectory to the store's folder.");
    }

    /// <summary>A pooled connection, for reads.</summary>
    public SqliteConnection Open() => Open(_connectionString);

    /// <summary>
    /// A connection of its own, really closed when disposed, for the writer and the checkpointer. SQLite opens a
    /// connection read-only, for good, when the disk is read-only at that moment; from the pool the writer could be
    /// handed such a connection after the disk recovered and refuse every write until a restart. A fresh one is
    /// opened read-write as soon as the disk allows it.
    /// </summary>
    public SqliteConnection OpenDedicated() => Open(_dedicatedConnectionString);

    private SqliteConnection Open(string connectionString)
    {
        var connection = new SqliteConnection(connectionString);
        try
        {
            connection.Open();
            using var cmd = connection.CreateCommand();
            // synchronous is per connection, not stored in the file: set it on every open.
            cmd.CommandText = $"PRAGMA synchronous=FULL; PRAGMA busy_timeout={_busyTimeoutMs};";
            cmd.ExecuteNonQuery();
            return connection;
        }
        catch
        {
            // An unpooled connection would otherwise keep its file handles until the finalizer runs.
            connection.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        // The pool is process-wide: idle connections would stay open on the files after the lock is released, and a
        // later instance in this process (after a restore renamed the files, in tests) could be handed them.
        using (var connection = new SqliteConnection(_connectionString))
        {
            SqliteConnection.ClearPool(connection);
        }
        _writerLock?.Dispose();
        _writerLock = null;
    }
}
