using System.Diagnostics;
using Microsoft.Data.Sqlite;

namespace ApprovalBot.Benchmarks;

/// <summary>
/// The physical floor (one durable commit on a kept-open connection) and the naive baseline (open, insert in
/// its own transaction, close), both WAL + synchronous=FULL, on the same disk as the host's data directory.
/// The row is shaped like a draft (id, text, sha256), so the baselines write what an agent would.
/// </summary>
internal static class SqliteBaselines
{
    private const string Schema = """
        PRAGMA journal_mode=WAL;
        CREATE TABLE IF NOT EXISTS drafts (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, text TEXT NOT NULL, sha256 TEXT NOT NULL, created_at INTEGER NOT NULL);
        """;

    private static string ConnectionString(string path, bool pooling) => new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Mode = SqliteOpenMode.ReadWriteCreate,
        Pooling = pooling,
        DefaultTimeout = 30,
    }.ToString();

    private static SqliteConnection Open(string path, bool pooling)
    {
        var connection = new SqliteConnection(ConnectionString(path, pooling));
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000;";
        cmd.ExecuteNonQuery();
        return connection;
    }

    private static void Create(string path)
    {
        using var connection = Open(path, pooling: false);
        using var cmd = connection.CreateCommand();
        cmd.CommandText = Schema;
        cmd.ExecuteNonQuery();
    }

    public sealed record FloorResult(Samples Latency, double CommitsPerSecond);

    /// <summary>Single-row INSERT, each in its own transaction, on one kept-open connection with a prepared command.</summary>
    public static FloorResult Floor(string directory, int warmup, int count)
    {
        using var floor = new FloorRunner(directory);
        floor.Run(warmup, measure: false);
        floor.Run(count);
        return floor.Result;
    }

    /// <summary>
    /// The floor, runnable in slices so that it can be interleaved with the measurement it is the floor of:
    /// both then see the same background load (other processes sharing the 2 cores and the disk).
    /// </summary>
    public sealed class FloorRunner : IDisposable
    {
        private readonly SqliteConnection _connection;
        private readonly SqliteCommand _insert;
        private readonly SqliteCommand _begin;
        private readonly SqliteCommand _commit;
        private readonly SqliteParameter _id;
        private readonly SqliteParameter _at;
        private readonly Samples _samples = new();
        private long _measuredTicks;
        private int _measured;
        private int _next;

        public FloorRunner(string directory)
        {
            var path = Path.Combine(directory, "floor.db");
            Create(path);
            _connection = Open(path, pooling: false);
            _insert = _connection.CreateCommand();
            _insert.CommandText = "INSERT INTO drafts(id, text, sha256, created_at) VALUES ($id, $text, $sha, $at)";
            _id = _insert.Parameters.Add("$id", SqliteType.Text);
            _insert.Parameters.AddWithValue("$text", Workload.Text);
            _insert.Parameters.AddWithValue("$sha", Workload.Sha256);
            _at = _insert.Parameters.Add("$at", SqliteType.Integer);
            _insert.Prepare();
            _begin = _connection.CreateCommand();
            _begin.CommandText = "BEGIN IMMEDIATE";
            _commit = _connection.CreateCommand();
            _commit.CommandText = "COMMIT";
        }

        public FloorResult Result => new(_samples, _measured / (_measuredTicks / (double)Stopwatch.Frequency));

        public void Run(int count, bool measure = true)
        {
            var slice = Stopwatch.GetTimestamp();
            for (var i = 0; i < count; i++)
            {
                var start = Stopwatch.GetTimestamp();
                _begin.ExecuteNonQuery();
                _id.Value = "floor:" + _next++;
                _at.Value = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                _insert.ExecuteNonQuery();
                _commit.ExecuteNonQuery();
                if (measure) _samples.Add(Ms.Since(start));
            }
            if (measure)
            {
                _measuredTicks += Stopwatch.GetTimestamp() - slice;
                _measured += count;
            }
        }

        public void Dispose()
        {
            _insert.Dispose();
            _begin.Dispose();
            _commit.Dispose();
            _connection.Dispose();
        }
    }

    public sealed record LoadResult(int Clients, Samples Latency, double PerSecond);

    /// <summary>
    /// What agents do without ApprovalBot: each write opens the database (no pool: a fresh open, as a new
    /// agent process would), inserts one row in its own transaction and closes. <paramref name="clients"/>
    /// such loops run at once in this process for <paramref name="duration"/>.
    /// </summary>
    public static async Task<LoadResult> Naive(string directory, int clients, TimeSpan warmup, TimeSpan duration, int? countPerClient = null)
    {
        var path = Path.Combine(directory, $"naive-{clients}.db");
        Create(path);
        var samples = new Samples();
        var measuring = 0;
        var stop = 0;
        var done = 0L;
        var loops = Enumerable.Range(0, clients).Select(c => Task.Factory.StartNew(() =>
        {
            for (var i = 0; Volatile.Read(ref stop) == 0 && (countPerClient is null || i < countPerClient); i++)
            {
                var start = Stopwatch.GetTimestamp();
                using (var connection = Open(path, pooling: false))
                using (var tx = connection.BeginTransaction(deferred: false))
                using (var insert = connection.CreateCommand())
                {
                    insert.Transaction = tx;
                    insert.CommandText = "INSERT INTO drafts(id, text, sha256, created_at) VALUES ($id, $text, $sha, $at)";
                    insert.Parameters.AddWithValue("$id", $"naive:{c}:{i}");
                    insert.Parameters.AddWithValue("$text", Workload.Text);
                    insert.Parameters.AddWithValue("$sha", Workload.Sha256);
                    insert.Parameters.AddWithValue("$at", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                    insert.ExecuteNonQuery();
                    tx.Commit();
                }
                if (Volatile.Read(ref measuring) == 1)
                {
                    samples.Add(Ms.Since(start));
                    Interlocked.Increment(ref done);
                }
            }
        }, TaskCreationOptions.LongRunning)).ToArray();

        if (countPerClient is not null)
        {
            Volatile.Write(ref measuring, 1);
            var sw = Stopwatch.StartNew();
            await Task.WhenAll(loops);
            return new LoadResult(clients, samples, done / sw.Elapsed.TotalSeconds);
        }
        await Task.Delay(warmup);
        Volatile.Write(ref measuring, 1);
        var timer = Stopwatch.StartNew();
        await Task.Delay(duration);
        var measured = Interlocked.Read(ref done);
        var elapsed = timer.Elapsed.TotalSeconds;
        Volatile.Write(ref measuring, 0);
        Volatile.Write(ref stop, 1);
        await Task.WhenAll(loops);
        return new LoadResult(clients, samples, measured / elapsed);
    }
}
