using Microsoft.Data.Sqlite;

namespace ApprovalBot.Drafts;

/// <summary>
/// Prepared commands of the writer's connection, kept for its lifetime: the writer runs the same few statements
/// for every write, and preparing each anew (parse + plan) was a visible share of a submit's CPU time. Belongs to
/// one connection; disposed with it.
/// </summary>
internal sealed class StatementCache(SqliteConnection connection) : IDisposable
{
    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);

    /// <summary>The command for <paramref name="sql"/>, bound to <paramref name="transaction"/>, its parameters cleared.</summary>
    public SqliteCommand Get(string sql, SqliteTransaction transaction)
    {
        if (!_commands.TryGetValue(sql, out var command))
        {
            command = connection.CreateCommand();
            command.CommandText = sql;
            _commands[sql] = command;
        }
        command.Transaction = transaction;
        command.Parameters.Clear();
        return command;
    }

    public void Dispose()
    {
        foreach (var command in _commands.Values)
        {
            command.Dispose();
        }
        _commands.Clear();
    }
}
