using ApprovalBot.Client;
using ApprovalBot.Tests.Infrastructure;
using ApprovalBot.Tests.Telegram;

namespace ApprovalBot.Tests.Execution;

/// <summary>The host as a real child process, killed with SIGKILL while a command route is running.</summary>
public sealed class ExecutorCrashTests
{
    // Across processes there is no in-process signal to await; the host's interval trigger runs every second.
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(60);

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
            DirectApproval.Approve(data.Path, "reply:crash", Sha.Hex("posted once"));
            await Eventually.TrueAsync(() => route.Runs().Count == 1, "the route to start", Within);
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
        await Eventually.TrueAsync(async () => (view = (await again.GetAsync("reply:crash")).Draft!).State != States.Executing,
            () => "the draft to leave executing", Within);

        Assert.Equal(States.Unknown, view!.State);
        Assert.Single(route.Runs());
        Assert.Empty(route.Effects());
    }
}
