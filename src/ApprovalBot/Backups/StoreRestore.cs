using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using ApprovalBot.Drafts;
using ApprovalBot.Execution;
using Microsoft.Data.Sqlite;

namespace ApprovalBot.Backups;

/// <summary>
/// <c>ApprovalBot restore &lt;file&gt;</c>: puts a backup in place of the store while no service runs. The new store is
/// built beside the old one (<c>approvals.db.restoring</c>), made durable, and renamed over it only once complete; the
/// replaced files (with their WAL, which must never meet another database) are kept in <c>replaced-&lt;time&gt;/</c>.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
internal static class StoreRestore
{
    /// <summary>
    /// How far the counters behind each draft's seq and each ledger id move past both the copy's and the replaced store's.
    /// The chat holds buttons given out after the backup (a card names its draft by seq and text hash, a Dismiss button a
    /// ledger id): without the jump a new draft could take such a seq, and a tap on an old card would decide it.
    /// </summary>
    public const long CounterJump = 1_000_000_000;

    public sealed record Result(StoreSummary Restored, string? Replaced, long NextSeq, string? CountersNote);

    public static Result Run(string databasePath, string backup, TimeProvider time, TimeSpan busyTimeout)
    {
        if (Directory.Exists(backup) || !File.Exists(backup))
        {
            throw new StoreCommandException($"There is no backup file at '{backup}'.");
        }
        if (string.Equals(Path.GetFullPath(backup), databasePath, StringComparison.Ordinal))
        {
            throw new StoreCommandException($"'{backup}' is the store itself; name a backup file.");
        }
        var restored = ReadBackup(backup, busyTimeout);

        var folder = Path.GetDirectoryName(databasePath)!;
        if (Environment.IsPrivilegedProcess && !Directory.Exists(folder))
        {
            throw new StoreCommandException(
                $"The data directory '{folder}' does not exist. Run the restore as the service's OS user (sudo -u <user>), so the store it creates belongs to that user.");
        }
        Directory.CreateDirectory(folder);
        using var writerLock = TakeLock(databasePath, folder);
        GiveToFolderOwner(folder, StoreLock.PathOf(databasePath));

        var restoring = StoreLock.RestoringPathOf(databasePath);
        File.Delete(restoring); // left by a restore that did not finish; the lock says none runs now
        File.Delete(restoring + "-journal");
        var at = time.GetUtcNow();
        var replaced = ReplacedFolder(folder, at);
        var (next, note) = Build(restoring, backup, databasePath, replaced, restored, at, busyTimeout);

        var moved = MoveAside(databasePath, replaced);
        File.Move(restoring, databasePath);
        StoreFile.FlushFolder(folder);
        if (moved)
        {
            StoreFile.FlushFolder(replaced);
        }
        return new Result(restored, moved ? replaced : null, next, note);
    }

    private static StoreSummary ReadBackup(string backup, TimeSpan busyTimeout)
    {
        try
        {
            using var connection = StoreFile.OpenReadOnly(backup, busyTimeout);
            StoreFile.CheckIntegrity(connection, backup);
            return StoreFile.Describe(connection, backup, refuseNewer: true);
        }
        catch (SqliteException ex)
        {
            throw new StoreCommandException($"Could not read the backup '{backup}': {ex.Message}", ex);
        }
    }

    private static FileStream TakeLock(string databasePath, string folder)
    {
        try
        {
            return StoreLock.TryTake(databasePath) ?? throw new StoreCommandException(
                $"ApprovalBot still runs on '{folder}' (its lock '{StoreLock.PathOf(databasePath)}' is held). Stop it first (systemctl stop approvalbot).");
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new StoreCommandException($"This OS user may not write '{StoreLock.PathOf(databasePath)}': run the restore as the service's user.", ex);
        }
    }

    /// <summary>The new store, complete and durable, at <paramref name="restoring"/>; the first seq it will give out.</summary>
    private static (long NextSeq, string? Note) Build(
        string restoring, string backup, string databasePath, string replaced, StoreSummary restored, DateTimeOffset at, TimeSpan busyTimeout)
    {
        StoreFile.CreateOwnerOnly(restoring);
        try
        {
            using (var source = StoreFile.OpenReadOnly(backup, busyTimeout))
            using (var target = new SqliteConnection(ReadWrite(restoring)))
            {
                target.Open();
                source.BackupDatabase(target);
            }
            var (floors, note) = ReplacedCounters(databasePath, busyTimeout);
            long next;
            using (var target = new SqliteConnection(ReadWrite(restoring)))
            {
                target.Open();
                StoreFile.Execute(target, "PRAGMA synchronous=FULL;");
                using var tx = target.BeginTransaction();
                StoreFile.Execute(target, """
                    INSERT INTO sqlite_sequence (name, seq) SELECT t.name, 0 FROM (SELECT 'drafts' AS name UNION ALL SELECT 'events') AS t
                      WHERE t.name NOT IN (SELECT name FROM sqlite_sequence);
                    UPDATE sqlite_sequence SET seq = max(seq, $drafts) + $jump WHERE name = 'drafts';
                    UPDATE sqlite_sequence SET seq = max(seq, $events) + $jump WHERE name = 'events';
                    """, ("$drafts", floors.Drafts), ("$events", floors.Events), ("$jump", CounterJump));
                var details = new JsonObject
                {
                    ["reason"] = "restored from a backup", ["backup"] = backup,
                    ["drafts"] = restored.Drafts, ["replaced"] = replaced,
                };
                var ms = at.ToUnixTimeMilliseconds();
                StoreFile.Execute(target,
                    "INSERT INTO events (draft_id, at, type, actor, details) VALUES (NULL, $at, 'store_restored', 'operator', $details)",
                    ("$at", ms), ("$details", details.ToJsonString()));
                StoreFile.Execute(target,
                    "INSERT INTO settings (key, value) VALUES ($key, $value) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    ("$key", RestoredApprovals.MarkerKey), ("$value", ms.ToString(CultureInfo.InvariantCulture)));
                next = Convert.ToInt64(StoreFile.Scalar(target, "SELECT seq FROM sqlite_sequence WHERE name = 'drafts'"), CultureInfo.InvariantCulture) + 1;
                tx.Commit();
            }
            GiveToFolderOwner(Path.GetDirectoryName(restoring)!, restoring);
            StoreFile.Flush(restoring);
            return (next, note);
        }
        catch (Exception ex)
        {
            File.Delete(restoring);
            File.Delete(restoring + "-journal");
            throw ex is SqliteException or IOException
                ? new StoreCommandException($"Could not build the restored store from '{backup}': {ex.Message}", ex)
                : ex;
        }
    }

    /// <summary>
    /// The replaced store's counters, so that restoring twice from one backup does not give out again what the first
    /// restored store gave out. A store too damaged to read (often the reason for the restore) leaves the copy's alone.
    /// </summary>
    private static ((long Drafts, long Events) Floors, string? Note) ReplacedCounters(string databasePath, TimeSpan busyTimeout)
    {
        if (!File.Exists(databasePath))
        {
            return ((0, 0), null);
        }
        try
        {
            using var connection = StoreFile.OpenReadOnly(databasePath, busyTimeout);
            using var cmd = connection.CreateCommand();
            cmd.CommandText = "SELECT name, seq FROM sqlite_sequence WHERE name IN ('drafts', 'events')";
            using var reader = cmd.ExecuteReader();
            long drafts = 0, events = 0;
            while (reader.Read())
            {
                if (reader.GetString(0) == "drafts") drafts = reader.GetInt64(1);
                else events = reader.GetInt64(1);
            }
            return ((drafts, events), null);
        }
        catch (SqliteException ex)
        {
            return ((0, 0), $"the replaced store could not be read ({ex.Message}), so the counters moved past the backup's only");
        }
    }

    private static string ReadWrite(string path) =>
        new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ToString();

    private static string ReplacedFolder(string folder, DateTimeOffset at)
    {
        var name = Path.Combine(folder, "replaced-" + at.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture));
        var candidate = name;
        for (var n = 2; Directory.Exists(candidate) || File.Exists(candidate); n++)
        {
            candidate = $"{name}-{n}";
        }
        return candidate;
    }

    /// <summary>Moves the store's files (with its WAL and shared memory) into <paramref name="replaced"/>; false when there were none.</summary>
    private static bool MoveAside(string databasePath, string replaced)
    {
        var files = new[] { "", "-wal", "-shm", "-journal" }.Select(suffix => databasePath + suffix).Where(File.Exists).ToList();
        if (files.Count == 0)
        {
            return false;
        }
        Directory.CreateDirectory(replaced, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        foreach (var file in files)
        {
            File.Move(file, Path.Combine(replaced, Path.GetFileName(file)));
        }
        return true;
    }

    /// <summary>
    /// Run as root, the new files would be root's, and the service's user could not open them: they get the data
    /// directory's owner, as SQLite does for the journal files it creates as root.
    /// </summary>
    private static void GiveToFolderOwner(string folder, string file)
    {
        if (!Environment.IsPrivilegedProcess)
        {
            return;
        }
        var info = new ProcessStartInfo("chown") { RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("--reference=" + folder);
        info.ArgumentList.Add(file);
        using var chown = Process.Start(info)!;
        var error = chown.StandardError.ReadToEnd();
        chown.WaitForExit();
        if (chown.ExitCode != 0)
        {
            throw new StoreCommandException($"Could not give '{file}' the owner of '{folder}': {error.Trim()}");
        }
    }
}
