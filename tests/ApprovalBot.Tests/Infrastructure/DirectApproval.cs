using Microsoft.Data.Sqlite;

namespace ApprovalBot.Tests.Infrastructure;

/// <summary>
/// Approves a stored draft by writing the decision straight into a host's database, as another process would: for
/// tests of the executor on a host process, where the Telegram flow is not the point. The interval trigger picks it up.
/// </summary>
internal static class DirectApproval
{
    public static void Approve(string dataDirectory, string id, string sha256)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(dataDirectory, "approvals.db")};Pooling=False");
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "UPDATE drafts SET state = 'approved', decision = 'approved', decided_by = 1001, decided_by_name = 'Ada', " +
            "decided_at = $now, decision_sha256 = $sha, state_since = $now, updated_at = $now WHERE id = $id";
        cmd.Parameters.AddWithValue("$now", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        cmd.Parameters.AddWithValue("$sha", sha256);
        cmd.Parameters.AddWithValue("$id", id);
        Assert.Equal(1, cmd.ExecuteNonQuery());
    }
}
