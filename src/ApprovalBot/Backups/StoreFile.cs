using System.Globalization;
using ApprovalBot.Drafts;
using Microsoft.Data.Sqlite;

namespace ApprovalBot.Backups;

/// <summary>Reading a store file that is not the service's own connection, and making new files durable.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
internal static class StoreFile
{
    /// <summary>
    /// Opens <paramref name="path"/> read-only: a wrong path fails instead of creating an empty database, and nothing
    /// writes to a live store. The busy timeout rides out the moments a WAL reader has to wait (a recovering or stopping
    /// service).
    /// </summary>
    public static SqliteConnection OpenReadOnly(string path, TimeSpan busyTimeout)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadOnly,
            Pooling = false,
            DefaultTimeout = (int)Math.Ceiling(busyTimeout.TotalSeconds),
        }.ToString());
        try
        {
            connection.Open();
            Execute(connection, $"PRAGMA busy_timeout={(long)busyTimeout.TotalMilliseconds};");
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// What an ApprovalBot store holds; throws <see cref="StoreCommandException"/> for a file that is not one (no
    /// schema version, no drafts table), or one a newer build wrote when <paramref name="refuseNewer"/>.
    /// </summary>
    public static StoreSummary Describe(SqliteConnection connection, string path, bool refuseNewer)
    {
        var version = Convert.ToInt32(Scalar(connection, "PRAGMA user_version"), CultureInfo.InvariantCulture);
        // An empty file passes the service's check (it would become a store), but there is nothing in it to back up or restore.
        if (version < 1 || SchemaMigrations.NotAStoreBecause(connection) is not null)
        {
            throw new StoreCommandException($"'{path}' is not an ApprovalBot store (it has no drafts, events and settings tables).");
        }
        if (refuseNewer && version > SchemaMigrations.Latest)
        {
            throw new StoreCommandException(
                $"'{path}' was written by a newer ApprovalBot (schema {version}; this build knows up to {SchemaMigrations.Latest}). Restore it with that build.");
        }
        var drafts = Convert.ToInt64(Scalar(connection, "SELECT count(*) FROM drafts"), CultureInfo.InvariantCulture);
        var lastSeq = Convert.ToInt64(Scalar(connection, "SELECT COALESCE(max(seq), 0) FROM drafts"), CultureInfo.InvariantCulture);
        return new StoreSummary(version, drafts, lastSeq, new FileInfo(path).Length);
    }

    /// <summary>Throws unless SQLite's integrity check of the whole file says <c>ok</c>.</summary>
    public static void CheckIntegrity(SqliteConnection connection, string path)
    {
        var problems = new List<string>();
        try
        {
            using var cmd = connection.CreateCommand();
            cmd.CommandText = "PRAGMA integrity_check(5)";
            using var reader = cmd.ExecuteReader();
            while (reader.Read())
            {
                problems.Add(reader.GetString(0));
            }
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == 11 /* SQLITE_CORRUPT */)
        {
            problems.Add(ex.Message);
        }
        if (problems is not ["ok"])
        {
            throw new StoreCommandException($"'{path}' is damaged: SQLite's integrity check says: {string.Join("; ", problems)}");
        }
    }

    /// <summary>Creates <paramref name="path"/> empty, readable and writable by its owner only; fails if it exists.</summary>
    public static void CreateOwnerOnly(string path)
    {
        using var _ = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
    }

    /// <summary>fsync of the file's data: SQLite does not sync what <c>VACUUM INTO</c> writes.</summary>
    public static void Flush(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        stream.Flush(flushToDisk: true);
    }

    public static object? Scalar(SqliteConnection connection, string sql)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }

    public static void Execute(SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }
        cmd.ExecuteNonQuery();
    }
}
