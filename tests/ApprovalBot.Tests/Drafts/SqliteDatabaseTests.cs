using ApprovalBot.Drafts;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Tests.Drafts;

public sealed class SqliteDatabaseTests
{
    private static SqliteDatabase Database(string dir) => new(Options.Create(new StoreOptions { DataDirectory = dir }));

    private static object? Scalar(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }

    [Fact]
    public void Open_EveryConnection_HasWalSynchronousFullAndForeignKeys()
    {
        using var dir = new TempDirectory();
        using var db = Database(dir.Path);
        db.Initialize();

        for (var i = 0; i < 3; i++)
        {
            using var connection = db.Open();
            Assert.Equal("wal", Scalar(connection, "PRAGMA journal_mode"));
            Assert.Equal(2L, Scalar(connection, "PRAGMA synchronous"));
            Assert.Equal(1L, Scalar(connection, "PRAGMA foreign_keys"));
            Assert.Equal(5000L, Scalar(connection, "PRAGMA busy_timeout"));
        }
    }

    [Fact]
    public void Initialize_FreshDirectory_SchemaAtLatestVersionWithIndexes()
    {
        using var dir = new TempDirectory();
        using var db = Database(Path.Combine(dir.Path, "nested", "data"));

        db.Initialize();

        using var connection = db.Open();
        Assert.Equal((long)SchemaMigrations.Latest, Scalar(connection, "PRAGMA user_version"));
        Assert.Equal(1L, Scalar(connection, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'drafts_by_state'"));
    }

    [Fact]
    public void Initialize_SchemaNewerThanThisBuild_RefusedWithMessage()
    {
        using var dir = new TempDirectory();
        using (var db = Database(dir.Path))
        {
            db.Initialize();
            using var connection = db.Open();
            Scalar(connection, $"PRAGMA user_version = {SchemaMigrations.Latest + 1}");
        }
        using var newer = Database(dir.Path);

        var error = Assert.Throws<InvalidOperationException>(newer.Initialize);

        Assert.Contains("newer than this build understands", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Initialize_SecondWriterOnSameDirectory_Refused()
    {
        using var dir = new TempDirectory();
        using var first = Database(dir.Path);
        first.Initialize();
        using var second = Database(dir.Path);

        var error = Assert.Throws<InvalidOperationException>(second.Initialize);

        Assert.Contains("Another ApprovalBot process is using the data directory", error.Message, StringComparison.Ordinal);
    }
}
