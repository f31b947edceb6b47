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

    /// <summary>A /bin/sh route whose body is <paramref name="body"/>, and the settings that make kind <c>reply</c> run it.</summary>
    private static IEnumerable<string> ShellRoute(TempDirectory folder, string body, int timeoutSeconds = 30)
    {
        var script = folder.Combine("route.sh");
        File.WriteAllText(script, "#!/bin/sh\ncat > /dev/null\n" + body + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        return
        [
            "ApprovalBot:Kinds:reply:Executor:Type=command", $"ApprovalBot:Kinds:reply:Executor:Command:0={script}",
            "ApprovalBot:Kinds:reply:Executor:MaxAttempts=1", $"ApprovalBot:Kinds:reply:Executor:TimeoutSeconds={timeoutSeconds}",
        ];
    }

    /// <summary>No control character (C0, DEL, C1) and no bidirectional control anywhere in <paramref name="text"/>.</summary>
    private static void AssertPrintable(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            Assert.False(char.IsControl(c), $"control character U+{(int)c:X4} in: {text}");
            Assert.False(c is '\u061c' or '\u200e' or '\u200f' or (>= '\u202a' and <= '\u202e') or (>= '\u2066' and <= '\u2069'),
                $"bidirectional control U+{(int)c:X4} in: {text}");
            Assert.False(char.IsSurrogate(c) && !char.IsSurrogatePair(text, char.IsHighSurrogate(c) ? i : i - 1), $"a lone surrogate in: {text}");
        }
    }

    /// <summary>
    /// A program's stderr is the program's, not the service's: its escape sequences (colours, a window title), a NUL, a BEL, a
    /// right-to-left override and its line breaks (a line that looks like the service's own log line) reach the stored error,
    /// and with it the card, /stale and the console log, only as one line of plain text, and only its last lines, which say
    /// what went wrong. Before, the whole stderr went in as it was.
    /// </summary>
    [Fact]
    public async Task Run_FailingProgramPrintsControlsAndManyLines_ErrorIsItsLastLinesAsOnePlainLine()
    {
        using var folder = new TempDirectory();
        await using var host = await StartAsync(ShellRoute(folder, """
            i=1; while [ $i -le 200 ]; do echo "progress line $i of a chatty run" >&2; i=$((i+1)); done
            printf '\033[31mERROR\033[0m:\tupload refused\r\n' >&2
            printf 'file: evil\342\200\256txt.exe\n\n' >&2
            printf 'nul\000here\033]0;a title\007 and a bell\007\n' >&2
            printf 'info: 2026-11-23T12:00:00Z forged log line\n' >&2
            exit 3
            """));
        await Drafts.ApproveAsync(host.Store, "reply:noisy", "posted");

        await Cycle(host).RunOnceAsync();

        var draft = host.Store.Get("reply:noisy")!;
        Assert.Equal(DraftState.Failed, draft.State);
        var error = draft.ExecError!;
        AssertPrintable(error);
        Assert.StartsWith("exit code 3: … progress line ", error, StringComparison.Ordinal);
        Assert.EndsWith(" of a chatty run | ERROR: upload refused | file: eviltxt.exe | nul\uFFFDhere and a bell\uFFFD | " +
            "info: 2026-11-23T12:00:00Z forged log line", error, StringComparison.Ordinal);
        Assert.InRange(error.Length, 200, "exit code 3: ".Length + CommandRunner.MaxStderrTail);
    }

    /// <summary>
    /// Stderr far longer than what is kept of it: its end is kept, where a program says why it failed. Before, its first
    /// 16 KiB were kept and all of them stored, and the last line, the error, was lost.
    /// </summary>
    [Fact]
    public async Task Run_FailingProgramPrintsMoreStderrThanIsKept_TheLastLineIsInTheError()
    {
        using var folder = new TempDirectory();
        await using var host = await StartAsync(ShellRoute(folder, """
            yes 'noise noise noise noise' | head -n 5000 >&2
            echo 'fatal: the sink refused the token' >&2
            exit 2
            """));
        await Drafts.ApproveAsync(host.Store, "reply:long", "posted");

        await Cycle(host).RunOnceAsync();

        var error = host.Store.Get("reply:long")!.ExecError!;
        AssertPrintable(error);
        Assert.StartsWith("exit code 2: … noise noise noise noise | ", error, StringComparison.Ordinal);
        Assert.EndsWith(" | fatal: the sink refused the token", error, StringComparison.Ordinal);
        Assert.True(error.Length <= "exit code 2: ".Length + CommandRunner.MaxStderrTail, error);
    }

    /// <summary>A program killed by a signal: the unknown draft's error holds its stderr as one plain line too.</summary>
    [Fact]
    public async Task Run_ProgramKilledBySignalAfterPrintingEscapes_ErrorIsOnePlainLine()
    {
        using var folder = new TempDirectory();
        await using var host = await StartAsync(ShellRoute(folder, """
            printf '\033[2Kposting\n\033[1Acut off\n' >&2
            kill -9 $$
            """));
        await Drafts.ApproveAsync(host.Store, "reply:killed", "posted");

        await Cycle(host).RunOnceAsync();

        var draft = host.Store.Get("reply:killed")!;
        Assert.Equal(DraftState.Unknown, draft.State);
        Assert.Equal("killed by signal 9 (or exited with code 137): posting | cut off" + ExecutionLedger.UnknownNote, draft.ExecError);
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
