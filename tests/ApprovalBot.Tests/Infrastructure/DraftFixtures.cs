using ApprovalBot.Drafts;
using ApprovalBot.Execution;
using ApprovalBot.Execution.Routes;

namespace ApprovalBot.Tests.Infrastructure;

/// <summary>Puts drafts into a given state through the store's own transitions, as the features would.</summary>
internal static class DraftFixtures
{
    /// <summary>A store in <paramref name="dataDirectory"/> holding a draft with each of <paramref name="ids"/>, no service running on it.</summary>
    public static async Task CreateStoreAsync(string dataDirectory, params string[] ids)
    {
        await using var host = await TestHost.StartAsync(dataDirectory: dataDirectory);
        foreach (var id in ids)
        {
            await SubmitAsync(host.Store, id, "text of " + id);
        }
    }

    public static async Task<Draft> SubmitAsync(DraftStore store, string id, string text = "text", string kind = "reply")
    {
        var outcome = await store.SubmitAsync(new NewDraft(id, kind, "agent", text, Sha.Hex(text), null));
        Assert.NotNull(outcome.Receipt);
        return store.Get(id)!;
    }

    public static async Task<Draft> ApproveAsync(DraftStore store, string id, string text = "text", string kind = "reply", DateTimeOffset? at = null)
    {
        await SubmitAsync(store, id, text, kind);
        // From pending or carded: with Telegram composed the card may already be out, as for a real tap.
        var result = await store.TransitionAsync(new Transition(id, [DraftState.Pending, DraftState.Carded], DraftState.Approved, "decided", "user:1001")
        {
            Set = new Dictionary<string, object?>
            {
                ["decision"] = "approved",
                ["decided_by"] = 1001L,
                ["decided_by_name"] = "Alice",
                ["decided_at"] = at ?? DateTimeOffset.UtcNow,
                ["decision_sha256"] = Sha.Hex(text),
            },
        });
        Assert.True(result.Applied);
        return result.Draft!;
    }

    public static async Task MoveAsync(DraftStore store, string id, DraftState from, DraftState to, IReadOnlyDictionary<string, object?>? set = null)
    {
        var result = await store.TransitionAsync(new Transition(id, [from], to, "test_move", "test") { Set = set ?? new Dictionary<string, object?>() });
        Assert.True(result.Applied);
    }

    /// <summary>Changes the database behind the service's back, as the seed incident did.</summary>
    public static void Sql(string dataDirectory, string sql)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(dataDirectory, "approvals.db")};Pooling=False");
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    /// <summary>
    /// The SQL that takes a store at the latest schema back to <paramref name="version"/>'s shape: the columns and indexes
    /// the later steps add, taken away, since adding one again is not a no-op. A new step that adds one adds its undo here.
    /// </summary>
    public static string UndoStepsAfter(int version)
    {
        (int Step, string Undo)[] undo =
        [
            (12, "DROP INDEX drafts_by_kind;"),
            (11, "ALTER TABLE drafts DROP COLUMN marked_done_by_name; ALTER TABLE drafts DROP COLUMN marked_done_by;"),
            (8, "ALTER TABLE drafts DROP COLUMN cancel_reason; ALTER TABLE drafts DROP COLUMN cancelled_by;"),
            (7, "DROP INDEX drafts_card_behind; ALTER TABLE drafts DROP COLUMN card_shown_since; ALTER TABLE drafts DROP COLUMN card_shown_state;"),
        ];
        return string.Concat(undo.Where(u => u.Step > version).Select(u => u.Undo + "\n"));
    }

    /// <summary>
    /// The store in <paramref name="dataDirectory"/> (no service writing to it) as a build at schema <paramref name="version"/>
    /// left it, with <paramref name="olderRows"/> written as that build would have, then upgraded by this build.
    /// </summary>
    public static void UpgradeFrom(string dataDirectory, int version, string olderRows)
    {
        Sql(dataDirectory, olderRows + "\n" + UndoStepsAfter(version) + $"PRAGMA user_version = {version};");
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(dataDirectory, "approvals.db")};Pooling=False");
        connection.Open();
        SchemaMigrations.Apply(connection);
    }

    /// <summary>
    /// An approved draft of a pull kind, claimed under a 60 s lease that then ran out and was recovered, on a route that
    /// dedupes: requeued (or failed on its last attempt). On one that does not it would be unknown.
    /// </summary>
    public static async Task ClaimedThenLeaseExpiredAsync(DraftStore store, ManualTimeProvider clock, string id, string kind, int maxAttempts)
    {
        await ApproveAsync(store, id, kind: kind);
        var route = new ExecutorRouteOptions { Type = "pull", MaxAttempts = maxAttempts, Idempotent = true };
        var begin = await store.WriteAsync(ctx => ExecutionLedger.Begin(ctx, id, $"pull:{kind}", route, TimeSpan.FromSeconds(60), "claim"));
        clock.Advance(TimeSpan.FromSeconds(61));
        await store.WriteAsync(ctx => ExecutionLedger.Recover(ctx, id, begin.Lease, route, "the pull lease expired", AttemptEvents.LeaseExpired));
    }

    /// <summary>
    /// <paramref name="count"/> drafts <c>&lt;prefix&gt;:1</c>… of <paramref name="kind"/>, written straight into the file in
    /// one transaction, submitted and in <paramref name="state"/> since <paramref name="at"/>, their text present and
    /// matching its hash and, unless still awaiting a decision (pending, carded), approved for it at <paramref name="at"/>; <paramref name="set"/> (an SQL
    /// <c>SET</c> list) then makes of them the gap a test needs, e.g. <c>text = NULL</c>.
    /// </summary>
    public static void BulkDrafts(string dataDirectory, string prefix, string kind, string state, int count, DateTimeOffset at, string? set = null)
    {
        var ms = at.ToUnixTimeMilliseconds();
        var decided = state is "pending" or "carded"
            ? "NULL, NULL, NULL, NULL"
            : $"'approved', 1001, {ms}, '{Sha.Hex("t")}'";
        Sql(dataDirectory, $"""
            BEGIN;
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count})
            INSERT INTO drafts(id, kind, agent, text, sha256, state, created_at, updated_at, state_since, decision, decided_by, decided_at, decision_sha256)
            SELECT '{prefix}:' || i, '{kind}', 'agent', 't', '{Sha.Hex("t")}', '{state}', {ms}, {ms}, {ms}, {decided} FROM n;
            {(set is null ? "" : $"UPDATE drafts SET {set} WHERE id GLOB '{prefix}:*';")}
            COMMIT;
            """);
    }

    /// <summary>
    /// <paramref name="count"/> ledger events of <paramref name="type"/> at <paramref name="at"/>, written straight into
    /// the file, each under a draft of its own of <paramref name="kind"/> in <paramref name="state"/> (its text present and
    /// matching its hash), or under no draft when <paramref name="state"/> is null: the history a report has to look past.
    /// </summary>
    public static void BulkEvents(string dataDirectory, string type, int count, DateTimeOffset at, string? state = null, string kind = "reply")
    {
        var ms = at.ToUnixTimeMilliseconds();
        var draft = state is null ? "NULL" : $"'{kind}:bulk:' || i";
        Sql(dataDirectory, $"""
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count})
            INSERT INTO drafts(id, kind, agent, text, sha256, state, created_at, updated_at, state_since)
            SELECT '{kind}:bulk:' || i, '{kind}', 'agent', 't', '{Sha.Hex("t")}', '{state}', {ms}, {ms}, {ms} FROM n WHERE {(state is null ? "0" : "1")};
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count})
            INSERT INTO events(draft_id, at, type, actor, details) SELECT {draft}, {ms}, '{type}', 'test', json_object() FROM n;
            """);
    }
}
