using System.Diagnostics;
using ApprovalBot.Execution;
using ApprovalBot.Execution.Routes;
using ApprovalBot.Tests.Infrastructure;
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
}
