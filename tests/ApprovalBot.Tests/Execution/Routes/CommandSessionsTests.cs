using System.Diagnostics;
using ApprovalBot.Execution;
using ApprovalBot.Execution.Routes;
using ApprovalBot.Tests.Infrastructure;
using ApprovalBot.Tests.Telegram;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalBot.Tests.Execution.Routes;

/// <summary>What a restart does with the record of a dead service's command run, against real processes.</summary>
public sealed class CommandSessionsTests
{
    [Fact]
    public async Task EndLeftover_RecordedPidNowHeldByAnotherProcess_NeverSignalledAndRecordDropped()
    {
        await using var host = await TestHost.StartAsync(compose: b => b.AddApprovalJobs());
        using var other = Process.Start(new ProcessStartInfo("setsid", ["--wait", "sleep", "60"]) { UseShellExecute = false })!;
        try
        {
            var start = ProcessSignals.StartTime(other.Id)!.Value;
            // The record of an earlier process that had the same pid: same boot, another start time.
            await host.Store.SetSettingAsync(CommandSessions.KeyPrefix + "reply:reused", $"{other.Id} {start - 1} {ProcessSignals.BootId()}");

            Assert.True(await host.Services.GetRequiredService<CommandSessions>().EndLeftoverAsync("reply:reused"));

            Assert.False(other.HasExited, "a process that only got the pid of the recorded one was killed");
            Assert.Null(host.Store.GetSetting(CommandSessions.KeyPrefix + "reply:reused"));
        }
        finally
        {
            other.Kill();
        }
    }

    [Fact]
    public async Task EndLeftover_RecordedSessionStillRuns_KilledAndGoneBeforeItReturns()
    {
        await using var host = await TestHost.StartAsync(compose: b => b.AddApprovalJobs());
        using var leftover = Process.Start(new ProcessStartInfo("setsid", ["--wait", "sleep", "60"]) { UseShellExecute = false })!;
        var start = ProcessSignals.StartTime(leftover.Id)!.Value;
        await host.Store.SetSettingAsync(CommandSessions.KeyPrefix + "reply:left", $"{leftover.Id} {start} {ProcessSignals.BootId()}");

        Assert.True(await host.Services.GetRequiredService<CommandSessions>().EndLeftoverAsync("reply:left"));

        Assert.False(RouteScript.IsAlive(leftover.Id));
        Assert.Null(host.Store.GetSetting(CommandSessions.KeyPrefix + "reply:left"));
    }

    /// <summary>
    /// The leftover program gets SIGTERM first (what a <c>sudo</c> in front forwards to its command) and its exit is awaited
    /// before the rest of its session is killed; its own child, which ignores nothing, goes with the session.
    /// </summary>
    [Fact]
    public async Task EndLeftover_RecordedProgramStillRuns_GetsSigtermThenItsSessionIsKilled()
    {
        await using var host = await TestHost.StartAsync(compose: b => b.AddApprovalJobs());
        using var dir = new TempDirectory();
        var termed = dir.Combine("termed");
        var childPid = dir.Combine("child.pid");
        using var leftover = Process.Start(new ProcessStartInfo("setsid",
            ["--wait", "sh", "-c", "trap 'touch \"$0\"; exit 0' TERM; sleep 60 & echo $! > \"$1\"; wait", termed, childPid]) { UseShellExecute = false })!;
        await Eventually.TrueAsync(() => File.Exists(childPid) && File.ReadAllText(childPid).EndsWith('\n'), "the leftover's child to start");
        var child = int.Parse(File.ReadAllText(childPid).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        var start = ProcessSignals.StartTime(leftover.Id)!.Value;
        await host.Store.SetSettingAsync(CommandSessions.KeyPrefix + "reply:trap", $"{leftover.Id} {start} {ProcessSignals.BootId()}");

        Assert.True(await host.Services.GetRequiredService<CommandSessions>().EndLeftoverAsync("reply:trap"));

        Assert.True(File.Exists(termed), "the leftover program never got SIGTERM");
        Assert.False(RouteScript.IsAlive(child), "the leftover program's child still runs");
        Assert.Null(host.Store.GetSetting(CommandSessions.KeyPrefix + "reply:trap"));
    }
}
