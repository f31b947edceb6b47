using System.Diagnostics;
using ApprovalBot.Backups;
using ApprovalBot.Client;
using ApprovalBot.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ApprovalBot.Tests.Reliability;

/// <summary>
/// README "Backing up and restoring": the backup command runs while the service runs, from cron or a timer, so it can be
/// killed midway (a reboot, an OOM kill, a timeout). The README's backup command, as written, is killed with SIGKILL at
/// each of its sync points in turn (<see cref="CrashPoints"/>), beside the real service. Each time nothing in the backup
/// folder may pass for a backup that is not one: a restore from any file left there restores every draft the service had
/// stored, or refuses saying why; and the service goes on, its store whole.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class BackupCrashTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Backup_KilledAtEachSyncPoint_NothingLeftPassesForABackup_ServiceAndStoreWhole()
    {
        using var work = new TempDirectory();
        var data = Directory.CreateDirectory(work.Combine("data")).FullName;
        var folder = Directory.CreateDirectory(work.Combine("backups")).FullName;
        using var points = await CrashPoints.CreateAsync(folder, folder + "/*");
        var receipts = new Dictionary<string, Receipt>();
        var watch = Stopwatch.StartNew();
        var outcomes = new List<string>();

        await using (var host = await HostProcess.StartAsync(data, OfflineBot.Settings))
        {
            await using var client = await host.ConnectAsync();
            for (var i = 0; i < 20; i++)
            {
                await SubmitAsync(client, receipts, $"post:backup-crash:{i}");
            }
            var dry = await BackupAsync(data, Path.Combine(folder, "dry-run.db"), points.Environment());
            Assert.True(dry.ExitCode == 0, dry.Stderr);
            var count = points.Taken().Count;
            Assert.True(count > 1, "the backup passed no point:\n" + string.Join('\n', points.Taken()));

            for (var n = 1; n <= count; n++)
            {
                Clear(folder);
                var backup = Path.Combine(folder, $"approvals-{n}.db");
                var killed = await BackupAsync(data, backup, points.Environment(killAt: n));
                Assert.True(killed.ExitCode == 137, $"point {n}: the backup was to die of SIGKILL there, and exited {killed.ExitCode}: {killed.Stderr}");
                var at = points.Taken()[^1];
                Assert.EndsWith("(killed here)", at, StringComparison.Ordinal);

                var left = Directory.GetFiles(folder).Order(StringComparer.Ordinal).ToList();
                var fates = left.ToDictionary(file => file, file => RestoreFrom(file, work.Combine("restored"), receipts, at));
                // A file under the backup's name is a whole backup; a cut-off copy has another name.
                Assert.True(!fates.TryGetValue(backup, out var fate) || fate == "a backup",
                    $"killed at '{at}', the backup left '{backup}', which is no complete backup (a restore from it {fate})");
                outcomes.Add($"{at[..^" (killed here)".Length]}: {(fates.Count == 0 ? "nothing left" : string.Join(", ", fates.Select(f => $"{Path.GetFileName(f.Key)}: {f.Value}")))}");

                // The service did not notice: it stores and serves as before.
                await SubmitAsync(client, receipts, $"post:backup-crash:after-{n}");
            }
            await host.KillAsync();
        }

        await using (var restarted = await HostProcess.StartAsync(data, OfflineBot.Settings))
        {
            await using var client = await restarted.ConnectAsync();
            foreach (var (id, receipt) in receipts)
            {
                var view = (await client.GetAsync(id)).Draft!;
                Assert.Equal((receipt.Seq, receipt.Sha256), (view.Seq, view.Sha256));
            }
        }
        Assert.Equal("ok", SqliteFile.Scalar(Path.Combine(data, "approvals.db"), "PRAGMA integrity_check"));
        output.WriteLine($"{outcomes.Count} sync points, the backup killed at each ({watch.Elapsed.TotalSeconds:F1} s); " +
            $"the service stored a draft after each kill, and after a kill -9 and restart served all {receipts.Count} receipts:\n{string.Join('\n', outcomes)}");
    }

    /// <summary>
    /// What a restore does with <paramref name="file"/> (into an empty data directory): restores every draft of
    /// <paramref name="receipts"/> ("a backup"), or refuses saying it is not one ("refused: …"). Anything else fails the test.
    /// </summary>
    private static string RestoreFrom(string file, string data, IReadOnlyDictionary<string, Receipt> receipts, string at)
    {
        if (Directory.Exists(data))
        {
            Directory.Delete(data, recursive: true);
        }
        Directory.CreateDirectory(data);
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = StoreCommand.Parse(["restore", file, $"--ApprovalBot:DataDirectory={data}"])!.Run(stdout, stderr, TimeProvider.System);
        if (exit == StoreCommand.Done)
        {
            var drafts = StoreContents.Read(Path.Combine(data, "approvals.db")).Drafts;
            var missing = receipts.Values.Where(r => !drafts.Any(d => d.StartsWith($"{r.Seq} | {r.Id} | ", StringComparison.Ordinal) && d.Contains(r.Sha256, StringComparison.Ordinal))).ToList();
            Assert.True(missing.Count == 0, $"killed at '{at}': '{file}' was left, and a restore from it succeeded without {missing.Count} of the {receipts.Count} drafts stored before the backup began, e.g. {missing.FirstOrDefault()?.Id}");
            return "a backup";
        }
        var reason = stderr.ToString().Trim();
        Assert.True(exit == StoreCommand.Failed, $"killed at '{at}': a restore from the '{file}' it left exited {exit}: {reason}");
        Assert.False(File.Exists(Path.Combine(data, "approvals.db")), $"killed at '{at}': a refused restore from '{file}' left a store");
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(reason, ClearRefusal),
            $"killed at '{at}': a restore from the '{file}' it left refused, but without saying it is no backup: {reason}");
        return "refused: " + reason["ApprovalBot restore: ".Length..];
    }

    /// <summary>A refusal that names the file and says why it is no backup, not SQLite's bare error code.</summary>
    private const string ClearRefusal =
        "^ApprovalBot restore: ('[^']+' (is not a complete backup|is not an ApprovalBot store|is damaged)|Could not read the backup '[^']+': SQLite Error 26: 'file is not a database')";

    private static async Task SubmitAsync(PipeClient client, Dictionary<string, Receipt> receipts, string id)
    {
        var response = await client.SubmitAsync(new DraftSubmission { Id = id, Kind = "post", Agent = "backup-crash", Text = $"Text of {id} ✓" });
        Assert.True(response.Ok, response.Error?.Message);
        receipts[id] = response.Receipt!;
    }

    private static void Clear(string folder)
    {
        foreach (var file in Directory.GetFiles(folder))
        {
            File.Delete(file);
        }
    }

    /// <summary>The README's backup block, as written, run with this build's program.</summary>
    private static Task<(int ExitCode, string Stdout, string Stderr, TimeSpan Took)> BackupAsync(string data, string backup, IReadOnlyDictionary<string, string> environment) =>
        ReadmeScript.RunAsync("backup", new Dictionary<string, string>
        {
            ["run"] = "dotnet " + Path.Combine(AppContext.BaseDirectory, "ApprovalBot.dll"), ["data"] = data, ["backup"] = backup,
        }, environment);
}
