using Microsoft.Data.Sqlite;

namespace ApprovalBot.Drafts;

/// <summary>
/// What a write sees inside the writer's transaction: the connection, the batch's clock reading, and a
/// place to queue signals that must only fire after the commit is durable.
/// </summary>
internal sealed class WriteContext(SqliteConnection connection, SqliteTransaction transaction, DateTimeOffset now, StatementCache? statements = null)
{
    private readonly List<DraftChange> _changes = [];

    public DateTimeOffset Now { get; } = now;

    public long NowMs => Now.ToUnixTimeMilliseconds();

    public IReadOnlyList<DraftChange> Changes => _changes;

    public SqliteCommand Command(string sql, params (string Name, object? Value)[] parameters)
    {
        var cmd = connection.CreateCommand();
        cmd.Transaction = transaction;
        cmd.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }
        return cmd;
    }

    /// <summary>
    /// A prepared command kept by the writer's connection for reuse, with these parameters bound. The caller must
    /// not dispose it, and must finish with it (dispose its reader) before the next call for the same SQL.
    /// Falls back to a fresh command when the context has no cache (it is then never disposed, so tests only).
    /// </summary>
    public SqliteCommand Statement(string sql, params (string Name, object? Value)[] parameters)
    {
        if (statements is null)
        {
            return Command(sql, parameters);
        }
        var cmd = statements.Get(sql, transaction);
        foreach (var (name, value) in parameters)
        {
            cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }
        return cmd;
    }

    public int Execute(string sql, params (string Name, object? Value)[] parameters)
    {
        if (statements is null)
        {
            using var cmd = Command(sql, parameters);
            return cmd.ExecuteNonQuery();
        }
        return Statement(sql, parameters).ExecuteNonQuery();
    }

    public Draft? ReadDraft(string id)
    {
        using var reader = Statement(DraftColumns.Select + " WHERE id = $id", ("$id", id)).ExecuteReader();
        return reader.Read() ? DraftColumns.Read(reader) : null;
    }

    /// <summary>Appends to the ledger in this transaction, so an event exists exactly when its transition does.</summary>
    internal const string AppendEventSql = "INSERT INTO events(draft_id, at, type, actor, details) VALUES ($d, $at, $type, $actor, $details)";

    public void AppendEvent(string? draftId, string type, string actor, string? detailsJson) =>
        Execute(AppendEventSql,
            ("$d", draftId), ("$at", NowMs), ("$type", type), ("$actor", actor), ("$details", detailsJson));

    /// <summary>Sets a row of the settings table in this transaction, replacing its value; the rows written, as <see cref="Execute"/>.</summary>
    public int SetSetting(string key, string value) =>
        Execute("INSERT INTO settings(key, value) VALUES ($key, $value) ON CONFLICT(key) DO UPDATE SET value = excluded.value", ("$key", key), ("$value", value));

    public void Publish(DraftChange change) => _changes.Add(change);

    internal void ResetChanges(int count) => _changes.RemoveRange(count, _changes.Count - count);
}
