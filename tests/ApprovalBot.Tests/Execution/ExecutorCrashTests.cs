using ApprovalBot.Client;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Data.Sqlite;

namespace ApprovalBot.Tests.Execution;

/// <summary>The host as a real child process, killed with SIGKILL while a command route is running.</summary>
public sealed class ExecutorCrashTests
{
    [Fact]
    public async Task HostKilledMidExecution_NonIdempotentRoute_UnknownAfterRestartAndNeverRunAgain()
    {
        using var data = new TempDirectory();
        using var route = new RouteScript("slow");
        string[] settings =
        [
            .. route.Settings("reply", idempotent: false, timeoutSeconds: 300),
            "ApprovalBot:Execution:IntervalSeconds=1",
            // Telegram is not part of this test: a token and an API nobody answers keep it out of the way in any build.
            "ApprovalBot:Telegram:Token=1:test", "ApprovalBot:Telegram:ApiBaseUrl=http://127.0.0.1:9",
            "ApprovalBot:Telegram:ChatId=1", "ApprovalBot:Telegram:Approvers:0=1",
        ];
        var host = await HostProcess.StartAsync(data.Path, settings);
        try
        {
            await using (var client = await host.ConnectAsync())
            {
                Assert.True((await client.SubmitAsync(new DraftSubmission { Id = "reply:crash", Kind = "reply", Agent = "a", Text = "posted once" })).Ok);
            }
            // The approval arrives as another process would write it; the interval trigger picks it up.
            Approve(data.Path, "reply:crash", Sha.Hex("posted once"));
            await UntilAsync(() => route.Runs().Count == 1, "the route never started");
        }
        finally
        {
            await host.KillAsync();
            await host.DisposeAsync();
        }

        route.Mode = "ok";
        await using var restarted = await HostProcess.StartAsync(data.Path, settings);
        await using var again = await restarted.ConnectAsync();
        DraftView? view = null;
        await UntilAsync(async () => (view = (await again.GetAsync("reply:crash")).Draft!).State != States.Executing, "the draft stayed executing");

        Assert.Equal(States.Unknown, view!.State);
        Assert.Single(route.Runs());
        Assert.Empty(route.Effects());
    }

    private static void Approve(string dataDirectory, string id, string sha)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(dataDirectory, "approvals.db")};Pooling=False");
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "UPDATE drafts SET state = 'approved', decision = 'approved', decided_by = 1001, decided_by_name = 'Ada', " +
            "decided_at = $now, decision_sha256 = $sha, state_since = $now, updated_at = $now WHERE id = $id";
        cmd.Parameters.AddWithValue("$now", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        cmd.Parameters.AddWithValue("$sha", sha);
        cmd.Parameters.AddWithValue("$id", id);
        Assert.Equal(1, cmd.ExecuteNonQuery());
    }

    // Across processes there is no in-process signal to await; poll with a deadline instead.
    private static Task UntilAsync(Func<bool> condition, string because) => UntilAsync(() => Task.FromResult(condition()), because);

    private static async Task UntilAsync(Func<Task<bool>> condition, string because)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, because);
            await Task.Delay(100);
        }
    }
}
