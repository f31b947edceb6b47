using System.Diagnostics;
using ApprovalBot.Backups;
using ApprovalBot.Drafts;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Reliability;

/// <summary>
/// A restore cut off after it moved the store aside (the service refuses to start: "run the restore again"), run again on
/// a full disk (<see cref="FullDisk"/>), in a real process: it fails, and the service must go on refusing, not start on a
/// new, empty store while the old one sits in <c>replaced-*</c>; once space returns the restore run again finishes.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class FullDiskRestoreTests
{
    [Fact]
    public async Task RestoreAgain_OnAFullDisk_FailsSayingSo_TheServiceStillRefuses_AndOnceSpaceReturnsItFinishes()
    {
        using var work = new TempDirectory();
        await DraftFixtures.CreateStoreAsync(work.Combine("source"), "reply:full-restore:copy");
        var backup = work.Combine("backup.db");
        StoreBackup.Run(Path.Combine(work.Combine("source"), "approvals.db"), backup, TimeSpan.FromSeconds(10));
        var data = work.Combine("data");
        await DraftFixtures.CreateStoreAsync(data, "reply:full-restore:old");
        var database = Path.Combine(data, "approvals.db");
        // As a restore cut off after moving the old store aside, before renaming the new one into place.
        var replaced = Directory.CreateDirectory(Path.Combine(data, "replaced-20260101T000000Z")).FullName;
        File.Move(database, Path.Combine(replaced, "approvals.db"));
        File.WriteAllText(StoreLock.RestoringPathOf(database), "half a store");
        using var disk = await FullDisk.CreateAsync(data);
        disk.Fill();

        var (exit, stderr) = await RestoreAsync(data, backup, disk.Environment);

        Assert.True(exit == StoreCommand.Failed, $"exit {exit}: {stderr}");
        Assert.Contains($"ApprovalBot restore: Could not build the restored store from '{backup}'", stderr, StringComparison.Ordinal);
        Assert.Contains($"The store it replaces is in a replaced-* folder in '{data}': the service will not start until a restore finishes (run it again).", stderr, StringComparison.Ordinal);
        disk.FreeSpace();
        await using (var host = await HostProcess.StartOrExitAsync(data, OfflineBot.Settings))
        {
            Assert.True(host.HasExited, "the service started while the store was moved aside:\n" + host.Output);
            Assert.Contains($"A restore into '{data}' did not finish", host.Output, StringComparison.Ordinal);
        }
        Assert.False(File.Exists(database), "the refused start created a store");

        var (again, againError) = await RestoreAsync(data, backup, new Dictionary<string, string>());

        Assert.True(again == StoreCommand.Done, againError);
        Assert.Equal("reply:full-restore:copy", SqliteFile.Scalar(database, "SELECT group_concat(id) FROM drafts"));
    }

    private static async Task<(int ExitCode, string Stderr)> RestoreAsync(string data, string backup, IReadOnlyDictionary<string, string> environment)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "ApprovalBot.dll"), "restore", backup, $"--ApprovalBot:DataDirectory={data}" })
        {
            info.ArgumentList.Add(arg);
        }
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = await process.StandardError.ReadToEndAsync();
        await stdout;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, stderr);
    }
}
