using ApprovalBot.Client;
using ApprovalBot.Tests.Infrastructure;
using ApprovalBot.Tests.Telegram;

namespace ApprovalBot.Tests.Execution;

/// <summary>
/// The host as a real child process, killed with SIGKILL (itself only, as <c>kill -9</c> or the OOM killer does) while a
/// command route is running: the route's program outlives it, and the restarted service must end it before it judges
/// the draft, or the old run could still post after the approver was told to check and retry.
/// </summary>
public sealed class ExecutorCrashTests
{
    // Across processes there is no in-process signal to await; the host's interval trigger runs every second.
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task HostKilledMidExecution_NonIdempotentRoute_OrphanEndedBeforeUnknownAndNeverRunAgain()
    {
        using var data = new TempDirectory();
        using var route = new RouteScript();
        var release = route.Folder + "/release";
        route.Mode = "wait-for:" + release;
        var settings = Settings(route, idempotent: false);
        var orphan = await StartAndKillMidRunAsync(data.Path, settings, route);
        try
        {
            route.Mode = "ok";
            await using var restarted = await HostProcess.StartAsync(data.Path, settings);
            await using var again = await restarted.ConnectAsync();
            var view = await LeftExecutingAsync(again);

            Assert.Equal(States.Unknown, view.State);
            // Gone by the time the draft was judged: released now, it can no longer post behind the approver's back.
            Assert.False(RouteScript.IsAlive(orphan), $"the old run (pid {orphan}) still runs after the restart judged the draft");
            File.WriteAllText(release, "");
            Assert.Single(route.Runs());
            Assert.Empty(route.Effects());
        }
        finally
        {
            EndIfAlive(orphan);
        }
    }

    [Fact]
    public async Task HostKilledMidExecution_IdempotentRoute_OrphanEndedThenRerunOnce()
    {
        using var data = new TempDirectory();
        using var route = new RouteScript();
        var release = route.Folder + "/release";
        route.Mode = "wait-for:" + release;
        var settings = Settings(route, idempotent: true);
        var orphan = await StartAndKillMidRunAsync(data.Path, settings, route);
        try
        {
            route.Mode = "ok";
            await using var restarted = await HostProcess.StartAsync(data.Path, settings);
            await using var again = await restarted.ConnectAsync();
            var view = await LeftExecutingAsync(again, States.Executed);

            Assert.Equal(States.Executed, view.State);
            Assert.False(RouteScript.IsAlive(orphan), $"the old run (pid {orphan}) still runs beside the rerun");
            File.WriteAllText(release, "");
            Assert.Equal(2, route.Runs().Count);
            Assert.Single(route.Effects());
        }
        finally
        {
            EndIfAlive(orphan);
        }
    }

    private static string[] Settings(RouteScript route, bool idempotent) =>
    [
        .. route.Settings("reply", idempotent: idempotent, timeoutSeconds: 300),
        "ApprovalBot:Execution:IntervalSeconds=1", "ApprovalBot:Execution:RetryBaseSeconds=0",
        // Telegram is not part of this test: a token and an API nobody answers keep it out of the way in any build.
        "ApprovalBot:Telegram:Token=1:test", "ApprovalBot:Telegram:ApiBaseUrl=http://127.0.0.1:9",
        "ApprovalBot:Telegram:ChatId=1", "ApprovalBot:Telegram:Approvers:0=1",
    ];

    /// <summary>Submits and approves a draft, waits for its run to start, kills the host alone; the run's pid, still running.</summary>
    private static async Task<int> StartAndKillMidRunAsync(string dataPath, string[] settings, RouteScript route)
    {
        var host = await HostProcess.StartAsync(dataPath, settings);
        try
        {
            await using (var client = await host.ConnectAsync())
            {
                Assert.True((await client.SubmitAsync(new DraftSubmission { Id = "reply:crash", Kind = "reply", Agent = "a", Text = "posted once" })).Ok);
            }
            // The approval arrives as another process would write it; the interval trigger picks it up.
            DirectApproval.Approve(dataPath, "reply:crash", Sha.Hex("posted once"));
            await Eventually.TrueAsync(() => route.Runs().Count == 1, "the route to start", Within);
            await host.KillHostOnlyAsync();
        }
        finally
        {
            await host.DisposeAsync();
        }
        var orphan = Assert.Single(route.Pids());
        Assert.True(RouteScript.IsAlive(orphan), "the run should outlive the killed host");
        return orphan;
    }

    private static async Task<DraftView> LeftExecutingAsync(PipeClient client, string? until = null)
    {
        DraftView? view = null;
        await Eventually.TrueAsync(async () => (view = (await client.GetAsync("reply:crash")).Draft!).State is var s
                && s != States.Executing && (until is null || s == until),
            () => $"the draft to leave executing (now {view?.State})", Within);
        return view!;
    }

    private static void EndIfAlive(int pid)
    {
        if (RouteScript.IsAlive(pid))
        {
            using var orphan = System.Diagnostics.Process.GetProcessById(pid);
            orphan.Kill(entireProcessTree: true);
        }
    }
}
