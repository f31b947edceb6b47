using System.Text.Json;
using ApprovalBot.Drafts;
using ApprovalBot.Execution;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Data.Sqlite;

namespace ApprovalBot.Tests.Execution;

/// <summary>Puts drafts into the states execution starts from, directly through the store (Telegram is not part of these tests).</summary>
internal static class Drafts
{
    public const long ApproverId = 1001;
    public const string ApproverName = "Ada";

    public static async Task SubmitAsync(DraftStore store, string id, string text, string kind = "reply", string? contextJson = null)
    {
        var outcome = await store.SubmitAsync(new NewDraft(id, kind, "outbound-engager", text, Sha.Hex(text), contextJson));
        Assert.NotNull(outcome.Receipt);
    }

    public static Transition Approval(string id, string approvedSha256, DateTimeOffset at) =>
        new(id, [DraftState.Pending, DraftState.Carded], DraftState.Approved, "decided", "telegram:" + ApproverId)
        {
            Set = new Dictionary<string, object?>
            {
                ["decision"] = "approved", ["decided_by"] = ApproverId, ["decided_by_name"] = ApproverName,
                ["decided_at"] = at, ["decision_sha256"] = approvedSha256,
            },
        };

    /// <summary>
    /// Submits and approves the exact text in plain SQL, behind the service's back: an approval through the store wakes the
    /// executor's job at once, and this one wakes nothing, so that only a test's own cycles (or the job's interval) see it.
    /// </summary>
    public static async Task ApproveUnannouncedAsync(TestHost host, string id, string text, string kind = "reply")
    {
        await SubmitAsync(host.Store, id, text, kind);
        Sql(host, "UPDATE drafts SET state = 'approved', state_since = $now, decision = 'approved', decided_by = $by, decided_at = $now, " +
            "decision_sha256 = sha256 WHERE id = $id", ("$now", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()), ("$by", ApproverId), ("$id", id));
    }

    /// <summary>Submits and approves the exact text, as a tap on the card would.</summary>
    public static async Task ApproveAsync(DraftStore store, string id, string text, string kind = "reply", string? contextJson = null)
    {
        await SubmitAsync(store, id, text, kind, contextJson);
        var result = await store.TransitionAsync(Approval(id, Sha.Hex(text), DateTimeOffset.UtcNow));
        Assert.True(result.Applied);
    }

    /// <summary>
    /// A draft left executing by a process that died mid-attempt: approved and moved to executing in one commit,
    /// with the key the dead attempt carried and a lease that has run out.
    /// </summary>
    public static async Task LeaveExecutingAsync(DraftStore store, string id, string text, string kind, DateTimeOffset leaseUntil)
    {
        await SubmitAsync(store, id, text, kind);
        var applied = await store.WriteAsync(ctx =>
            DraftStore.Apply(ctx, Approval(id, Sha.Hex(text), ctx.Now)).Applied &&
            DraftStore.Apply(ctx, new Transition(id, [DraftState.Approved], DraftState.Executing, "execution_started", "executor:command")
            {
                Set = new Dictionary<string, object?>
                {
                    ["exec_attempts"] = 1, ["exec_key"] = IdempotencyKey.For(id, Sha.Hex(text)),
                    ["lease_token"] = "lease-of-a-dead-process", ["lease_until"] = leaseUntil,
                },
            }).Applied);
        Assert.True(applied);
    }

    /// <summary>Plain SQL on the database file, behind the service's back.</summary>
    public static void Sql(TestHost host, string sql, params (string Name, object? Value)[] parameters)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(host.DataDirectory, "approvals.db")};Pooling=False");
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }
        cmd.ExecuteNonQuery();
    }

    /// <summary>
    /// An approved draft whose stored context is not JSON (a database edited by hand). The context goes bad before the
    /// approval: an approval wakes the executor at once, which could run the draft first.
    /// </summary>
    public static async Task ApproveWithContextNotJsonAsync(TestHost host, string id, string text, string kind = "reply")
    {
        await SubmitAsync(host.Store, id, text, kind, contextJson: """{"rationale":"fine at submit"}""");
        Sql(host, "UPDATE drafts SET context = 'not json' WHERE id = $id", ("$id", id));
        Assert.True((await host.Store.TransitionAsync(Approval(id, Sha.Hex(text), DateTimeOffset.UtcNow))).Applied);
    }

    /// <summary>The draft failed at its first attempt, for good, because it could not be written as the route's input.</summary>
    public static void AssertFailedAsInputNotWritten(DraftStore store, string id)
    {
        var draft = store.Get(id)!;
        Assert.Equal(DraftState.Failed, draft.State);
        Assert.StartsWith("the draft could not be written as the route's input: the stored context is not one JSON value: ",
            draft.ExecError, StringComparison.Ordinal);
        Assert.Equal(1, draft.ExecAttempts);
        var events = store.Events(id);
        Assert.DoesNotContain(events, e => e.Type == "execution_unknown");
        using var failed = JsonDocument.Parse(Assert.Single(events, e => e.Type == "execution_failed").Details!);
        Assert.False(failed.RootElement.GetProperty("retryable").GetBoolean());
        Assert.True(failed.RootElement.GetProperty("final").GetBoolean());
    }
}
