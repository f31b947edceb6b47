using System.Diagnostics;
using ApprovalBot.Drafts;
using Microsoft.Data.Sqlite;

namespace ApprovalBot.Benchmarks;

/// <summary>
/// A store of many drafts written directly into <c>approvals.db</c> with the service's own schema, then served
/// by the real host: start-up until the pipe answers, the two reports, <c>list</c>, and the host's peak RSS.
/// </summary>
internal static class BigStore
{
    /// <summary>How many drafts of each non-final state; the rest are executed. Spread evenly over a year of seq.</summary>
    public static readonly (string State, int Count)[] Mix =
    [
        ("carded", 1_000), ("pending", 100), ("approved", 50), ("failed", 20), ("unknown", 5), ("blocked", 5),
        ("rejected", 20_000), ("expired", 5_000), ("cancelled", 1_000),
    ];

    public static string Describe(int total) =>
        $"{total:N0} drafts ({string.Join(", ", Mix.Select(m => $"{Scale(m.Count, total):N0} {m.State}"))}, the rest executed), " +
        "one ledger event each, created evenly over the past year, 200-character texts";

    private static int Scale(int count, int total) => Math.Max(1, (int)((long)count * total / 1_000_000));

    /// <summary>Writes the drafts; returns the seconds it took.</summary>
    public static double Generate(string dataDirectory, int total)
    {
        var sw = Stopwatch.StartNew();
        Directory.CreateDirectory(dataDirectory);
        var path = Path.Combine(dataDirectory, "approvals.db");
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        using (var pragma = connection.CreateCommand())
        {
            pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; PRAGMA cache_size=-200000;";
            pragma.ExecuteNonQuery();
        }
        SchemaMigrations.Apply(connection);

        // Which rows get which special state: each state's rows spaced evenly over the whole range.
        var states = new string?[total];
        var offset = 0;
        foreach (var (state, count) in Mix)
        {
            var n = Scale(count, total);
            var stride = total / n;
            for (var k = 0; k < n; k++)
            {
                var i = (k * stride + offset) % total;
                while (states[i] is not null) i = (i + 1) % total;
                states[i] = state;
            }
            offset += 7;
        }

        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var yearMs = 365L * 24 * 3600 * 1000;
        using var tx = connection.BeginTransaction();
        using var insert = connection.CreateCommand();
        insert.Transaction = tx;
        insert.CommandText =
            "INSERT INTO drafts(id, kind, agent, text, sha256, context, state, created_at, updated_at, state_since, " +
            "card_chat_id, card_message_id, card_attempts, card_error, decision, decided_by, decided_by_name, decided_at, decision_sha256, " +
            "exec_attempts, exec_key, exec_result, exec_error, exec_at) VALUES " +
            "($id, $kind, 'bench-agent', $text, $sha, '{\"rationale\":\"benchmark\"}', $state, $created, $updated, $updated, " +
            "$chat, $msg, $cardAttempts, $cardError, $decision, $by, 'Alice', $decidedAt, $decisionSha, " +
            "$execAttempts, $execKey, $execResult, $execError, $execAt)";
        var p = new Dictionary<string, SqliteParameter>();
        foreach (var name in new[] { "id", "kind", "text", "sha", "state", "created", "updated", "chat", "msg", "cardAttempts", "cardError", "decision", "by", "decidedAt", "decisionSha", "execAttempts", "execKey", "execResult", "execError", "execAt" })
        {
            p[name] = insert.Parameters.Add("$" + name, SqliteType.Text);
        }
        insert.Prepare();
        using var ev = connection.CreateCommand();
        ev.Transaction = tx;
        ev.CommandText = "INSERT INTO events(draft_id, at, type, actor, details) VALUES ($d, $at, 'submitted', 'agent:bench-agent', $details)";
        var evId = ev.Parameters.Add("$d", SqliteType.Text);
        var evAt = ev.Parameters.Add("$at", SqliteType.Integer);
        var details = $"{{\"kind\":\"reply\",\"sha256\":\"{Workload.Sha256}\",\"length\":{Workload.Text.Length}}}";
        ev.Parameters.AddWithValue("$details", details);
        ev.Prepare();

        for (var i = 0; i < total; i++)
        {
            var state = states[i] ?? "executed";
            var created = now - yearMs + yearMs * i / total;
            var updated = created + 60_000;
            var kind = state == "approved" ? "post" : "reply";
            var id = $"{kind}:bench:{i}";
            var carded = state is not "pending";
            var decided = state is "approved" or "rejected" or "failed" or "unknown" or "blocked" or "executed";
            var executed = state is "executed" or "failed" or "unknown";
            p["id"].Value = id;
            p["kind"].Value = kind;
            p["text"].Value = state == "blocked" ? DBNull.Value : Workload.Text;
            p["sha"].Value = Workload.Sha256;
            p["state"].Value = state;
            p["created"].Value = created;
            p["updated"].Value = updated;
            p["chat"].Value = carded ? 1001L : DBNull.Value;
            p["msg"].Value = carded ? (object)(long)(i + 1) : DBNull.Value;
            p["cardAttempts"].Value = carded ? 1 : (i % 10 == 0 ? 8 : 0);
            p["cardError"].Value = !carded && i % 10 == 0 ? "Forbidden: bot was blocked by the user" : DBNull.Value;
            p["decision"].Value = decided ? (state == "rejected" ? "rejected" : "approved") : DBNull.Value;
            p["by"].Value = decided ? 1001L : DBNull.Value;
            p["decidedAt"].Value = decided ? created + 30_000 : DBNull.Value;
            p["decisionSha"].Value = decided ? Workload.Sha256 : DBNull.Value;
            p["execAttempts"].Value = executed ? 1 : 0;
            p["execKey"].Value = executed ? "k" + i : DBNull.Value;
            p["execResult"].Value = state == "executed" ? "https://example.test/" + i : DBNull.Value;
            p["execError"].Value = state is "failed" or "unknown" ? "sink said no" : DBNull.Value;
            p["execAt"].Value = executed ? (object)updated : DBNull.Value;
            insert.ExecuteNonQuery();
            evId.Value = id;
            evAt.Value = created;
            ev.ExecuteNonQuery();
        }
        tx.Commit();
        using (var checkpoint = connection.CreateCommand())
        {
            checkpoint.CommandText = "PRAGMA wal_checkpoint(TRUNCATE);";
            checkpoint.ExecuteNonQuery();
        }
        return sw.Elapsed.TotalSeconds;
    }
}
