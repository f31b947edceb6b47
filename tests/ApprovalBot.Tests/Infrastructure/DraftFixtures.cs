using ApprovalBot.Drafts;

namespace ApprovalBot.Tests.Infrastructure;

/// <summary>Puts drafts into a given state through the store's own transitions, as the features would.</summary>
internal static class DraftFixtures
{
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
}
