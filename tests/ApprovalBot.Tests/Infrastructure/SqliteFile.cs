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
}
