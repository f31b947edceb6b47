using ApprovalBot.Drafts;
using ApprovalBot.Execution;
using ApprovalBot.Execution.Routes;
using ApprovalBot.Tests.Infrastructure;
using ApprovalBot.Tests.Telegram;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalBot.Tests.Execution.Routes;

/// <summary>The command route with real scripts: its output, its timeouts, and the processes a run leaves behind.</summary>
public sealed class CommandRunnerTests
{
    private static Task<TestHost> StartAsync(IEnumerable<string> settings) =>
        TestHost.StartAsync(settings: settings, compose: b => b.AddApprovalJobs());

    private static ExecutorCycle Cycle(TestHost host) => host.Services.GetRequiredService<ExecutorCycle>();

    [Fact]
    public async Task Run_ProgramLeavesABackgroundJobHoldingItsOutput_ResultKeptAndTheJobKilled()
    {
        using var route = new RouteScript("background");
        await using var host = await StartAsync(route.Settings("reply"));
        await Drafts.ApproveAsync(host.Store, "reply:bg", "posted");

        await Cycle(host).RunOnceAsync();

        var draft = host.Store.Get("reply:bg")!;
        Assert.Equal(DraftState.Executed, draft.State);
        Assert.Equal("https://example.test/reply:bg", draft.ExecResult);
        Assert.False(RouteScript.IsAlive(route.BackgroundPid()), "the job the program left behind still runs");
    }

    [Fact]
    public async Task Run_FailingProgramLeavesABackgroundJobHoldingItsOutput_StderrKeptAndTheJobKilled()
    {
        using var route = new RouteScript("background-fail");
        await using var host = await StartAsync(route.Settings("reply"));
        await Drafts.ApproveAsync(host.Store, "reply:bg-fail", "posted");

        await Cycle(host).RunOnceAsync();

        var draft = host.Store.Get("reply:bg-fail")!;
        Assert.Equal(DraftState.Approved, draft.State);
        Assert.Equal("exit code 3: sink said no", draft.ExecError);
        Assert.False(RouteScript.IsAlive(route.BackgroundPid()), "the job the program left behind still runs");
    }

    [Fact]
    public async Task Run_TimedOut_ProgramGetsSigtermFirst()
    {
        // SIGTERM to the program itself is what a sudo in front of it forwards to its command; SIGKILL would stop sudo alone.
        using var route = new RouteScript("term-trap");
        await using var host = await StartAsync(route.Settings("reply", timeoutSeconds: 1));
        await Drafts.ApproveAsync(host.Store, "reply:term", "slow one");

        await Cycle(host).RunOnceAsync();

        var draft = host.Store.Get("reply:term")!;
        Assert.Equal(DraftState.Unknown, draft.State);
        Assert.True(route.Terminated, "the program never got SIGTERM");
        Assert.Contains("timed out after 1s; the program was sent SIGTERM and exited, then the rest of its session was killed", draft.ExecError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_TimedOutProgramIgnoresSigterm_ItsGroupIsKilledAfterTheGrace()
    {
        using var route = new RouteScript("ignore-term");
        await using var host = await StartAsync(route.Settings("reply", timeoutSeconds: 1));
        await Drafts.ApproveAsync(host.Store, "reply:stubborn", "slow one");

        await Cycle(host).RunOnceAsync();

        var draft = host.Store.Get("reply:stubborn")!;
        Assert.Equal(DraftState.Unknown, draft.State);
        Assert.Contains($"did not exit within {CommandRunner.TermGrace.TotalSeconds:0}s of SIGTERM, so its process group was killed (SIGKILL)", draft.ExecError, StringComparison.Ordinal);
        Assert.False(RouteScript.IsAlive(Assert.Single(route.Pids())), "the program still runs");
        Assert.False(RouteScript.IsAlive(route.BackgroundPid()), "its child still runs");
    }

    [Fact]
    public async Task Run_ProgramLeadsItsOwnSession_RecordedBeforeItGetsTheDraftAndForgottenAfter()
    {
        using var route = new RouteScript();
        var release = route.Folder + "/release";
        route.Mode = "wait-for:" + release;
        await using var host = await StartAsync(route.Settings("reply"));
        await Drafts.ApproveAsync(host.Store, "reply:rec", "posted");
        var key = CommandSessions.KeyPrefix + "reply:rec";

        var cycle = Cycle(host).RunOnceAsync();
        // A run's files are written once it has read the draft: the record must be in the store by then.
        await Eventually.TrueAsync(() => route.Runs().Count == 1, "the route to start", TimeSpan.FromSeconds(30));
        var pid = Assert.Single(route.Pids());
        var record = host.Store.GetSetting(key);
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        File.WriteAllText(release, "");
        await cycle;
        await host.WaitForStateAsync("reply:rec", DraftState.Executed, TimeSpan.FromSeconds(30));

        Assert.StartsWith($"{pid} {fields[19]} ", record, StringComparison.Ordinal);
        Assert.Equal((pid.ToString(System.Globalization.CultureInfo.InvariantCulture), pid.ToString(System.Globalization.CultureInfo.InvariantCulture)), (fields[2], fields[3]));
        Assert.Null(host.Store.GetSetting(key));
    }

    [Fact]
    public async Task Run_ProgramMissing_FailedWithoutRetry()
    {
        await using var host = await StartAsync([
            "ApprovalBot:Kinds:reply:Executor:Type=command", "ApprovalBot:Kinds:reply:Executor:Command:0=/nonexistent/route",
        ]);
        await Drafts.ApproveAsync(host.Store, "reply:missing", "posted");

        await Cycle(host).RunOnceAsync();

        var draft = host.Store.Get("reply:missing")!;
        Assert.Equal((DraftState.Failed, 1), (draft.State, draft.ExecAttempts));
        Assert.StartsWith("could not start '/nonexistent/route': setsid: failed to execute /nonexistent/route: No such file or directory", draft.ExecError, StringComparison.Ordinal);
    }
}
