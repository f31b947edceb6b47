using Microsoft.Data.Sqlite;

namespace ApprovalBot.Tests.Infrastructure;

/// <summary>A store file read or written directly, outside any service: backups, copies, files made to look damaged.</summary>
internal static class SqliteFile
{
    public static void Execute(string path, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    /// <summary>Opened read-only, so a wrong path fails instead of creating an empty database.</summary>
    public static SqliteConnection OpenReadOnly(string path)
    {
        var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        return connection;
    }

    /// <summary>The first column of the first row, as invariant text (null for none or NULL).</summary>
    public static string? Scalar(string path, string sql)
    {
        using var connection = OpenReadOnly(path);
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToString(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The store's write lock taken from outside, as sqlite3 or a backup script takes it (BEGIN IMMEDIATE), and held until
    /// the returned lock is disposed, which rolls back and closes.
    /// </summary>
    public static IDisposable HoldWriteLock(string path)
    {
        var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        return new WriteLock(connection, connection.BeginTransaction(deferred: false));
    }

    private sealed class WriteLock(SqliteConnection connection, SqliteTransaction transaction) : IDisposable
    {
        public void Dispose()
        {
            transaction.Dispose();
            connection.Dispose();
        }
    }
}
