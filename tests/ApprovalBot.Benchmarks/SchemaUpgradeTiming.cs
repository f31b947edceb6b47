using System.Diagnostics;
using ApprovalBot.Drafts;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Benchmarks;

/// <summary>
/// `--upgrade-timing [drafts]`: how long the service's start takes to bring a big store (the benchmark's, <see cref="BigStore"/>)
/// up from the schema before the newest step, and what <c>list --kind</c> of a rare kind costs before and after it. Not
/// part of the report: a number for the README's schema notes, measured when a step that rebuilds or adds an index is added.
/// </summary>
internal static class SchemaUpgradeTiming
{
    /// <summary>What the newest step added, taken away again: the store as the previous build left it.</summary>
    private const string BeforeNewestStep = "DROP INDEX drafts_by_kind;";

    public static void Run(int total)
    {
        var data = Path.Combine(Path.GetTempPath(), "approvalbot-upgrade-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var generated = BigStore.Generate(data, total);
            Console.WriteLine($"generated {BigStore.Describe(total)} in {generated:0.0} s");
            var path = Path.Combine(data, "approvals.db");
            using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString()))
            {
                connection.Open();
                Execute(connection, $"{BeforeNewestStep} PRAGMA user_version = {SchemaMigrations.Latest - 1}; PRAGMA wal_checkpoint(TRUNCATE);");
                Console.WriteLine($"schema {SchemaMigrations.Latest - 1}: list --kind post, newest 50: {ListRareKindMs(connection):0.0} ms");
            }
            var sw = Stopwatch.StartNew();
            using (var database = new SqliteDatabase(Options.Create(new StoreOptions { DataDirectory = data })))
            {
                database.Initialize();
                Console.WriteLine($"upgrade to schema {SchemaMigrations.Latest} at start (SqliteDatabase.Initialize, file in the page cache): {sw.Elapsed.TotalSeconds:0.00} s");
                using var connection = database.Open();
                Console.WriteLine($"schema {SchemaMigrations.Latest}: list --kind post, newest 50: {ListRareKindMs(connection):0.0} ms");
            }
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(data, recursive: true);
        }
    }

    /// <summary>The list's own query for the benchmark store's rare kind (50 approved posts in a million drafts), best of 3.</summary>
    private static double ListRareKindMs(SqliteConnection connection)
    {
        var best = double.MaxValue;
        for (var run = 0; run < 3; run++)
        {
            using var cmd = connection.CreateCommand();
            cmd.CommandText = DraftStore.ListSql(byState: false, byKind: true);
            cmd.Parameters.AddWithValue("$kind", "post");
            cmd.Parameters.AddWithValue("$limit", 51);
            var start = Stopwatch.GetTimestamp();
            using (var reader = cmd.ExecuteReader())
            {
                while (reader.Read())
                {
                }
            }
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        return best;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
