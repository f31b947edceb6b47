using System.Diagnostics;
using ApprovalBot.Backups;
using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Data.Sqlite;

namespace ApprovalBot.Tests.Backups;

/// <summary>
/// <c>ApprovalBot restore</c> on real store files: what it refuses (changing nothing), and what it leaves for the service.
/// The end-to-end restore under the real host, with the chat, is in Reliability/BackupRestoreTests.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class StoreRestoreTests : IDisposable
{
    private static readonly TimeSpan BusyTimeout = TimeSpan.FromSeconds(10);
    private readonly TempDirectory _temp = new();

    private string Data => _temp.Combine("data");

    private string Database => Path.Combine(Data, "approvals.db");

    public void Dispose() => _temp.Dispose();

    /// <summary>A store with drafts <paramref name="ids"/> in its own folder, backed up to <c>backup.db</c>; the backup's path.</summary>
    private async Task<string> BackupOfAsync(params string[] ids)
    {
        var source = _temp.Combine("source");
        await DraftFixtures.CreateStoreAsync(source, ids);
        var backup = _temp.Combine("backup.db");
        StoreBackup.Run(Path.Combine(source, "approvals.db"), backup, BusyTimeout);
        return backup;
    }

    private StoreRestore.Result Restore(string backup) => StoreRestore.Run(Database, backup, TimeProvider.System, BusyTimeout);

    [Fact]
    public async Task Run_OverAStore_CopyInPlaceReplacedKeptCountersMovedMarkerSet()
    {
        var backup = await BackupOfAsync("reply:restore:a", "reply:restore:b");
        await DraftFixtures.CreateStoreAsync(Data, "reply:restore:old-1", "reply:restore:old-2", "reply:restore:old-3");

        var result = Restore(backup);

        Assert.Equal((2L, 2L), (result.Restored.Drafts, result.Restored.LastSeq));
        Assert.Equal(3 + StoreRestore.CounterJump + 1, result.NextSeq);
        Assert.Null(result.CountersNote);
        Assert.Equal(["reply:restore:a", "reply:restore:b"], Ids(Database));
        Assert.Equal(["reply:restore:old-1", "reply:restore:old-2", "reply:restore:old-3"], Ids(Path.Combine(result.Replaced!, "approvals.db")));
        Assert.False(File.Exists(Database + "-wal"));
        Assert.False(File.Exists(StoreLock.RestoringPathOf(Database)));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Database));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(result.Replaced!));
        var restored = SqliteFile.Scalar(Database, $"SELECT value FROM settings WHERE key = '{ApprovalBot.Execution.RestoredApprovals.MarkerKey}'");
        Assert.InRange(long.Parse(restored!, System.Globalization.CultureInfo.InvariantCulture), DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeMilliseconds(), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var details = SqliteFile.Scalar(Database, "SELECT details FROM events WHERE type = 'store_restored'")!;
        Assert.Contains($"\"backup\":\"{backup}\"", details, StringComparison.Ordinal);

        // The service opens it, and the next draft takes a seq past the replaced store's and the jump.
        await using var host = await TestHost.StartAsync(dataDirectory: Data);
        var fresh = await DraftFixtures.SubmitAsync(host.Store, "reply:restore:fresh");
        Assert.Equal(result.NextSeq, fresh.Seq);
    }

    [Fact]
    public async Task Run_TwiceFromOneBackup_SecondStoreGivesOutNoSeqTheFirstRestoredStoreGaveOut()
    {
        var backup = await BackupOfAsync("reply:twice:a");
        await DraftFixtures.CreateStoreAsync(Data, "reply:twice:old");
        Restore(backup);
        long firstRestoredSeq;
        await using (var host = await TestHost.StartAsync(dataDirectory: Data))
        {
            firstRestoredSeq = (await DraftFixtures.SubmitAsync(host.Store, "reply:twice:after-the-first")).Seq;
        }

        var second = Restore(backup);

        Assert.True(second.NextSeq > firstRestoredSeq + StoreRestore.CounterJump - 1, $"next seq {second.NextSeq}, first restored store gave out {firstRestoredSeq}");
        Assert.Equal(2, Directory.GetDirectories(Data, "replaced-*").Length);
    }

    [Fact]
    public async Task Run_NoStoreYet_CreatesItWithNothingToReplace()
    {
        var backup = await BackupOfAsync("reply:fresh:a");
        Directory.CreateDirectory(Data);

        var result = Restore(backup);

        Assert.Null(result.Replaced);
        Assert.Equal(["reply:fresh:a"], Ids(Database));
        Assert.Empty(Directory.GetDirectories(Data, "replaced-*"));
        Assert.DoesNotContain("replaced", SqliteFile.Scalar(Database, "SELECT details FROM events WHERE type = 'store_restored'"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_ReplacedStoreUnreadable_RestoresAndSaysTheCountersMovedPastTheBackupsOnly()
    {
        var backup = await BackupOfAsync("reply:damaged:a");
        Directory.CreateDirectory(Data);
        File.WriteAllText(Database, "what is left of a store after a disk failure: " + new string('?', 4096));

        var result = Restore(backup);

        Assert.Equal(1 + StoreRestore.CounterJump + 1, result.NextSeq);
        Assert.Contains("could not be read", result.CountersNote, StringComparison.Ordinal);
        Assert.StartsWith("what is left", File.ReadAllText(Path.Combine(result.Replaced!, "approvals.db")), StringComparison.Ordinal);
        Assert.Equal(["reply:damaged:a"], Ids(Database));
    }

    [Fact]
    public async Task Run_AnInterruptedRestoreLeftItsFile_TheServiceRefusesToStart_AndARestoreAgainFinishesPastTheMovedStoresSeqs()
    {
        var backup = await BackupOfAsync("reply:interrupted:a");
        await DraftFixtures.CreateStoreAsync(Data, "reply:interrupted:old-1", "reply:interrupted:old-2", "reply:interrupted:old-3");
        // As a restore cut off after moving the old store aside, before renaming the new one into place.
        var replaced = Directory.CreateDirectory(Path.Combine(Data, "replaced-20260101T000000Z")).FullName;
        File.Move(Database, Path.Combine(replaced, "approvals.db"));
        File.WriteAllText(StoreLock.RestoringPathOf(Database), "half a store");

        var refused = await Assert.ThrowsAsync<StartupRefusedException>(() => TestHost.StartAsync(dataDirectory: Data));
        Assert.Contains("did not finish", refused.Message, StringComparison.Ordinal);
        Assert.Contains("approvals.db is not (the store it replaced is in a replaced-* folder there). Run the restore again", refused.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Database), "the refused start created a store");

        var result = Restore(backup);

        // The cards of old-1..old-3 are in the chat: their seqs are not given out again.
        Assert.Equal(3 + StoreRestore.CounterJump + 1, result.NextSeq);
        Assert.Null(result.Replaced);
        Assert.Equal(["reply:interrupted:a"], Ids(Database));
        Assert.False(File.Exists(StoreLock.RestoringPathOf(Database)));
        await using var host = await TestHost.StartAsync(dataDirectory: Data);
        Assert.NotNull(host.Store.Get("reply:interrupted:a"));
    }

    [Fact]
    public async Task Run_ReplacedStoreWithItsWal_TheMovedDatabaseHoldsEveryDraftOnItsOwn()
    {
        var backup = await BackupOfAsync("reply:wal:a");
        await KilledServiceStoreAsync("reply:wal:in-the-wal");

        var result = Restore(backup);

        // Alone, without the WAL beside it: the one file kept in replaced-* holds the whole store.
        var alone = _temp.Combine("alone.db");
        File.Copy(Path.Combine(result.Replaced!, "approvals.db"), alone);
        Assert.Contains("reply:wal:in-the-wal", Ids(alone));
    }

    [Fact]
    public async Task Run_ARestoreCutOffWhileMovingTheStoreAside_TheServiceRefuses_AndARestoreAgainKeepsItWholeInOneFolder()
    {
        var backup = await BackupOfAsync("reply:split:a");
        await KilledServiceStoreAsync("reply:split:in-the-wal", "reply:split:old");
        // As a restore cut off after moving the database into the replacing folder, before its WAL (as one too damaged to
        // checkpoint would still have it): the old store is whole only with both.
        var replacing = StoreLock.ReplacingPathOf(Database);
        Directory.CreateDirectory(replacing);
        File.Move(Database, Path.Combine(replacing, "approvals.db"));
        File.WriteAllText(StoreLock.RestoringPathOf(Database), "half a store");

        var refused = await Assert.ThrowsAsync<StartupRefusedException>(() => TestHost.StartAsync(dataDirectory: Data));
        Assert.Contains($"did not finish: it was moving the store it replaces into '{replacing}'. Run the restore again", refused.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Database), "the refused start created a store");

        var result = Restore(backup);

        Assert.Equal(["reply:split:a"], Ids(Database));
        Assert.False(Directory.Exists(replacing));
        Assert.Equal([result.Replaced!], Directory.GetDirectories(Data, "replaced-*"));
        Assert.Equal(["reply:split:old", "reply:split:in-the-wal"], Ids(Path.Combine(result.Replaced!, "approvals.db")));
        // The counters moved past the draft only its WAL held: its card is in the chat.
        Assert.Equal(2 + StoreRestore.CounterJump + 1, result.NextSeq);
        Assert.False(File.Exists(Database + "-wal"), "the replaced store's WAL was left beside the new store");
    }

    [Fact]
    public async Task Run_ACutOffRestoresReplacingFolderAndAnotherStoreBesideIt_RefusedAndNothingChanged()
    {
        var backup = await BackupOfAsync("reply:clash:a");
        await DraftFixtures.CreateStoreAsync(Data, "reply:clash:current");
        var replacing = Directory.CreateDirectory(StoreLock.ReplacingPathOf(Database)).FullName;
        File.Copy(Database, Path.Combine(replacing, "approvals.db"));
        var before = Files(Data);

        var ex = Assert.Throws<StoreCommandException>(() => Restore(backup));

        Assert.Equal(
            $"'{replacing}' holds part of the store a cut-off restore was moving aside, and '{Database}' is there too. Move one of them out of the data directory, then run the restore again.",
            ex.Message);
        Assert.Equal(before, Files(Data));
    }

    /// <summary>
    /// In the data folder, the store a service killed with SIGKILL leaves: <paramref name="before"/> and then
    /// <paramref name="inTheWal"/> submitted, the last only in the WAL. A copy of the files, taken while the connections are
    /// open, is what such a service leaves.
    /// </summary>
    private async Task KilledServiceStoreAsync(string inTheWal, params string[] before)
    {
        await using (var running = await TestHost.StartAsync(dataDirectory: Data))
        {
            foreach (var id in before)
            {
                await DraftFixtures.SubmitAsync(running.Store, id);
            }
            await DraftFixtures.SubmitAsync(running.Store, inTheWal);
            foreach (var suffix in new[] { "", "-wal" })
            {
                File.Copy(Database + suffix, _temp.Combine("killed.db" + suffix));
            }
        }
        Directory.Delete(Data, recursive: true);
        Directory.CreateDirectory(Data);
        File.Move(_temp.Combine("killed.db"), Database);
        File.Move(_temp.Combine("killed.db-wal"), Database + "-wal");
        File.Copy(Database, _temp.Combine("killed-alone.db"));
        Assert.DoesNotContain(inTheWal, Ids(_temp.Combine("killed-alone.db")));
    }

    [Fact]
    public async Task Run_CopyChangedLaterThanThisClockSays_MarkerNotBeforeTheCopysLatestChange()
    {
        var backup = await BackupOfAsync("reply:clock:a");
        var ahead = DateTimeOffset.UtcNow.AddHours(2).ToUnixTimeMilliseconds();
        SqliteFile.Execute(backup, $"UPDATE drafts SET updated_at = {ahead}, state_since = {ahead}");
        Directory.CreateDirectory(Data);

        Restore(backup);

        var marker = long.Parse(SqliteFile.Scalar(Database, $"SELECT value FROM settings WHERE key = '{ApprovalBot.Execution.RestoredApprovals.MarkerKey}'")!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(marker >= ahead, $"marker {marker} is before the copy's latest change {ahead}: its approvals would count as made after the restore");
    }

    [Fact]
    public async Task Run_DataDirectoryMissing_RefusedAndNotCreated()
    {
        var backup = await BackupOfAsync("reply:missing:a");

        var ex = Assert.Throws<StoreCommandException>(() => Restore(backup));

        Assert.Equal($"The data directory '{Data}' does not exist. Check ApprovalBot:DataDirectory, or create it for the service's OS user first: install -d -m 700 -o <user> -g <group> '{Data}'.", ex.Message);
        Assert.False(Directory.Exists(Data));
    }

    [Fact]
    public async Task Run_StoreIsASymbolicLink_RefusedAndNothingChanged()
    {
        var backup = await BackupOfAsync("reply:link:a");
        var elsewhere = _temp.Combine("elsewhere");
        await DraftFixtures.CreateStoreAsync(elsewhere, "reply:link:current");
        Directory.CreateDirectory(Data);
        File.CreateSymbolicLink(Database, Path.Combine(elsewhere, "approvals.db"));
        var before = Files(_temp.Path);

        var ex = Assert.Throws<StoreCommandException>(() => Restore(backup));

        Assert.StartsWith($"'{Database}' is a symbolic link", ex.Message, StringComparison.Ordinal);
        Assert.Equal(before, Files(_temp.Path));
    }

    /// <summary>Each case: what the backup file is, and what the restore says.</summary>
    public static TheoryData<string, string> BadBackups => new()
    {
        { "missing", "There is no backup file at" },
        { "folder", "is a folder, not a backup file; name the file a backup wrote" },
        { "the store itself", "is the store itself" },
        { "the file an unfinished restore left", "is the new store an unfinished restore left" },
        { "text", "is not an ApprovalBot store (it is not an SQLite database at all)." },
        { "not ApprovalBot", "is not an ApprovalBot store" },
        { "newer schema", "was written by a newer ApprovalBot (schema 99;" },
        { "damaged", "is damaged: SQLite's integrity check says" },
        { "empty", "is not an ApprovalBot store" },
    };

    [Theory]
    [MemberData(nameof(BadBackups))]
    public async Task Run_BadBackup_RefusedAndTheStoreUnchanged(string situation, string error)
    {
        var good = await BackupOfAsync("reply:bad:a", "reply:bad:b", "reply:bad:c");
        await DraftFixtures.CreateStoreAsync(Data, "reply:bad:current");
        var backup = _temp.Combine("bad.db");
        switch (situation)
        {
            case "missing": break;
            case "folder": Directory.CreateDirectory(backup); break;
            case "the store itself": backup = Database; break;
            case "the file an unfinished restore left":
                // Complete, as the refusal of a cut-off restore says: a restore starts by removing it.
                backup = StoreLock.RestoringPathOf(Database);
                File.Copy(good, backup);
                break;
            case "text": File.WriteAllText(backup, "not a database, " + new string('x', 200)); break;
            case "not ApprovalBot": SqliteFile.Execute(backup, "CREATE TABLE drafts (id TEXT); PRAGMA user_version = 3;"); break;
            case "newer schema":
                File.Copy(good, backup);
                SqliteFile.Execute(backup, "PRAGMA user_version = 99;");
                break;
            case "damaged": Damage(good, backup); break;
            case "empty": File.WriteAllBytes(backup, []); break;
        }
        var before = Files(Data);

        var ex = Assert.Throws<StoreCommandException>(() => Restore(backup));

        Assert.Contains(error, ex.Message, StringComparison.Ordinal);
        Assert.Equal(before, Files(Data));
    }

    [Fact]
    public async Task Run_WhileTheLockIsHeld_RefusedAndNothingChanged()
    {
        var backup = await BackupOfAsync("reply:locked:a");
        await DraftFixtures.CreateStoreAsync(Data, "reply:locked:current");
        var before = Files(Data);
        using var held = StoreLock.TryTake(Database);
        Assert.NotNull(held);

        var ex = Assert.Throws<StoreCommandException>(() => Restore(backup));

        Assert.StartsWith($"ApprovalBot still runs on '{Data}'", ex.Message, StringComparison.Ordinal);
        Assert.Equal(before, Files(Data));
    }

    /// <summary>
    /// The OS refusing the lock file itself (here a symbolic-link loop; in life a data directory remounted read-only after
    /// disk errors) is said as that, not as a service still running.
    /// </summary>
    [Fact]
    public async Task Run_LockFileUnopenable_RefusedWithTheOsReasonAndNothingChanged()
    {
        var backup = await BackupOfAsync("reply:lock-loop:a");
        await DraftFixtures.CreateStoreAsync(Data, "reply:lock-loop:current");
        File.Delete(StoreLock.PathOf(Database));
        File.CreateSymbolicLink(StoreLock.PathOf(Database), StoreLock.PathOf(Database));
        var before = Files(Data);

        var ex = Assert.Throws<StoreCommandException>(() => Restore(backup));

        Assert.StartsWith($"The lock '{StoreLock.PathOf(Database)}' cannot be opened: ", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("still runs", ex.Message, StringComparison.Ordinal);
        Assert.Equal(before, Files(Data));
    }

    /// <summary>
    /// A copy of a WAL-mode file (a stopped store copied with cp) would carry WAL mode into the new store, and the marker and
    /// the counter jump would reach the file only through a checkpoint at close, whose failure nobody hears of. The restored
    /// file holds them itself, in rollback mode (the service makes it WAL again when it opens it).
    /// </summary>
    [Fact]
    public async Task Run_FromACopyOfAWalModeStore_TheRestoredFileNeedsNoWalBesideIt()
    {
        var source = _temp.Combine("stopped");
        await DraftFixtures.CreateStoreAsync(source, "reply:wal-copy:a");
        var copy = _temp.Combine("copied-with-cp.db");
        File.Copy(Path.Combine(source, "approvals.db"), copy);
        Assert.Equal([2, 2], File.ReadAllBytes(copy)[18..20]);
        Directory.CreateDirectory(Data);

        Restore(copy);

        Assert.Equal([1, 1], File.ReadAllBytes(Database)[18..20]);
        Assert.Equal(["reply:wal-copy:a"], Ids(Database));
        Assert.NotNull(SqliteFile.Scalar(Database, $"SELECT value FROM settings WHERE key = '{ApprovalBot.Execution.RestoredApprovals.MarkerKey}'"));
    }

    [Fact]
    public async Task Run_AsRootOnADataDirectoryOfAnotherUser_TheNewFilesBelongToThatUser()
    {
        Assert.True(Environment.IsPrivilegedProcess, "needs root to restore for another user (CI runs as root)");
        var backup = await BackupOfAsync("reply:owner:a");
        await DraftFixtures.CreateStoreAsync(Data, "reply:owner:current");
        File.Delete(StoreLock.PathOf(Database));
        Run("chown", "-R", "nobody:nogroup", Data);

        var result = Restore(backup);

        foreach (var path in new[] { Database, StoreLock.PathOf(Database), result.Replaced!, Path.Combine(result.Replaced!, "approvals.db") })
        {
            Assert.Equal($"nobody:nogroup {path}", Run("stat", "-c", "%U:%G %n", path));
        }
    }

    /// <summary>A copy of <paramref name="good"/> with one of its later pages overwritten: still a database, no longer intact.</summary>
    private static void Damage(string good, string copy)
    {
        var bytes = File.ReadAllBytes(good);
        Assert.True(bytes.Length >= 4 * 4096, $"the backup has only {bytes.Length} bytes");
        for (var i = 2 * 4096; i < 3 * 4096; i++)
        {
            bytes[i] = 0x5a;
        }
        File.WriteAllBytes(copy, bytes);
    }

    private static List<string> Ids(string database)
    {
        using var connection = SqliteFile.OpenReadOnly(database);
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT id FROM drafts ORDER BY seq";
        using var reader = cmd.ExecuteReader();
        var ids = new List<string>();
        while (reader.Read())
        {
            ids.Add(reader.GetString(0));
        }
        return ids;
    }

    /// <summary>Every file and folder under <paramref name="folder"/> with the hash of its bytes (the lock file's, held, cannot be read).</summary>
    private static Dictionary<string, string> Files(string folder) =>
        Directory.GetFileSystemEntries(folder, "*", SearchOption.AllDirectories)
            .ToDictionary(f => f, f => f.EndsWith(".lock", StringComparison.Ordinal) ? "lock" : File.Exists(f) ? Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))) : "folder");

    private static string Run(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', args)}: {error}");
        return output.Trim();
    }
}
