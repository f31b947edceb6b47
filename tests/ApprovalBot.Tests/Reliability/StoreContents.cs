using Microsoft.Data.Sqlite;

namespace ApprovalBot.Tests.Reliability;

/// <summary>
/// What a store file holds, read outside any service, in a form two stores can be compared by: its schema version, SQLite's
/// integrity check, its schema (every table, index and trigger as created), its drafts (the columns a service start leaves
/// alone, by seq) and its ledger events (by id).
/// </summary>
internal sealed record StoreContents(long Version, string Integrity, IReadOnlyList<string> Schema, IReadOnlyList<string> Drafts, IReadOnlyList<string> Events)
{
    /// <summary>What a draft is: who sent which text, its hash, its state and decision, its execution's key and outcome.</summary>
    private const string DraftColumns =
        "seq, id, kind, agent, text, sha256, context, state, created_at, state_since, decision, decided_by, decided_by_name, decided_at, " +
        "decision_sha256, exec_attempts, exec_key, exec_result, exec_error, exec_at, card_chat_id, card_message_id";

    /// <summary>
    /// Reads <paramref name="databasePath"/> (recovering a WAL a killed process left); <paramref name="extraDraftColumns"/>
    /// adds columns of the newest schema, <paramref name="eventsUpTo"/> leaves out the events a service added since.
    /// </summary>
    public static StoreContents Read(string databasePath, string extraDraftColumns = "", long eventsUpTo = long.MaxValue)
    {
        Assert.True(File.Exists(databasePath), $"there is no store at '{databasePath}'");
        using var connection = new SqliteConnection($"Data Source={databasePath};Mode=ReadWrite;Pooling=False");
        connection.Open();
        return new StoreContents(
            Convert.ToInt64(Rows(connection, "PRAGMA user_version").Single(), System.Globalization.CultureInfo.InvariantCulture),
            string.Join("; ", Rows(connection, "PRAGMA integrity_check")),
            Rows(connection, "SELECT type || ' ' || name || ': ' || COALESCE(sql, '') FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"),
            Rows(connection, $"SELECT {DraftColumns}{extraDraftColumns} FROM drafts ORDER BY seq"),
            Rows(connection, $"SELECT id, draft_id, at, type, actor, details FROM events WHERE id <= {eventsUpTo} ORDER BY id"));
    }

    /// <summary>Each row as its columns joined by ' | ' (NULL as ∅).</summary>
    private static List<string> Rows(SqliteConnection connection, string sql)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        using var reader = cmd.ExecuteReader();
        var rows = new List<string>();
        while (reader.Read())
        {
            rows.Add(string.Join(" | ", Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i)
                ? "∅" : Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture))));
        }
        return rows;
    }
}
