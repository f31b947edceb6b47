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
/// replaced files (with their WAL, which must never meet another database) are kept in <c>replaced-&lt;time&gt;/</c>,
/// which they reach together: moved one by one into <c>approvals.db.replacing/</c>, which a restore cut off midway
/// finishes filling when run again, and that folder renamed in one step.
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
        if (Directory.Exists(backup))
        {
            throw new StoreCommandException($"'{backup}' is a folder, not a backup file; name the file a backup wrote.");
        }
        if (!File.Exists(backup))
        {
            throw new StoreCommandException($"There is no backup file at '{backup}'.");
        }
        if (string.Equals(Path.GetFullPath(backup), databasePath, StringComparison.Ordinal))
        {
            throw new StoreCommandException($"'{backup}' is the store itself; name a backup file.");
        }
        if (string.Equals(Path.GetFullPath(backup), StoreLock.RestoringPathOf(databasePath), StringComparison.Ordinal))
        {
            // Removed below before the copy is read: the restore would delete the only copy it was asked to restore.
            throw new StoreCommandException(
                $"'{backup}' is the new store an unfinished restore left, which a restore removes first; restore the backup it was made from again, or move this file out of the data directory and restore it from there.");
        }
        var restored = ReadBackup(backup, busyTimeout);

        var folder = Path.GetDirectoryName(databasePath)!;
        if (!Directory.Exists(folder))
        {
            // Not created here: run from the wrong folder, or without the service's DataDirectory, a restore would put
            // the store where no service looks; and the folder must be the service user's, with mode 0700.
            throw new StoreCommandException(
                $"The data directory '{folder}' does not exist. Check ApprovalBot:DataDirectory, or create it for the service's OS user first: install -d -m 700 -o <user> -g <group> '{folder}'.");
        }
        if (new FileInfo(databasePath).LinkTarget is { } target)
        {
            throw new StoreCommandException(
                $"'{databasePath}' is a symbolic link (to '{target}'); the restore would replace the link, not the store it points to. Make the link's folder the data directory (ApprovalBot:DataDirectory) and restore there.");
        }
        using var writerLock = TakeLock(databasePath, folder);
        GiveToFolderOwner(folder, StoreLock.PathOf(databasePath));

        var restoring = StoreLock.RestoringPathOf(databasePath);
        // A restore cut off after it moved the store aside: its file is all that keeps the service from starting on a new,
        // empty store in its place.
        var movedAside = File.Exists(restoring) && !File.Exists(databasePath);
        foreach (var suffix in new[] { "", "-journal", "-wal", "-shm" })
        {
            File.Delete(restoring + suffix); // left by a restore that did not finish; the lock says none runs now
        }
        if (File.Exists(databasePath))
        {
            Checkpoint(databasePath, busyTimeout);
        }
        var replacing = StoreLock.ReplacingPathOf(databasePath);
        if (Directory.Exists(replacing))
        {
            // A restore cut off while it moved the old store aside: the rest of it joins what was moved, so that the
            // counters below read it whole and it is kept in one folder.
            MoveStore(databasePath, replacing, folder, restoring, replaced: null);
        }
        var hasOld = Directory.Exists(replacing) || StoreFiles(databasePath).Count > 0;
        var (floors, note) = Floors(databasePath, folder, busyTimeout);
        var replaced = hasOld ? ReplacedFolder(folder, time.GetUtcNow()) : null;
        long next;
        try
        {
            next = Build(restoring, backup, replaced, restored, floors, time.GetUtcNow(), busyTimeout);
        }
        catch (Exception ex) when (movedAside && ex is StoreCommandException or IOException or UnauthorizedAccessException)
        {
            // Build removed what it had written; an empty file in its place keeps the service refusing, as before this run.
            try
            {
                StoreFile.CreateOwnerOnly(restoring);
            }
            catch (Exception again) when (again is IOException or UnauthorizedAccessException)
            {
                throw new StoreCommandException(
                    $"{ex.Message.TrimEnd('.')}. The store it replaces is in a replaced-* folder in '{folder}', and '{restoring}' could not be left to say so ({again.Message}): do not start the service before a restore finishes, or it starts on a new, empty store.", ex);
            }
            throw new StoreCommandException(
                $"{ex.Message.TrimEnd('.')}. The store it replaces is in a replaced-* folder in '{folder}': the service will not start until a restore finishes (run it again).", ex);
        }

        try
        {
            if (replaced is not null)
            {
                // Moved only now: reading the old store (above) can itself leave an empty -wal and a -shm beside it, and
                // a WAL left beside the new store would be replayed into it.
                MoveStore(databasePath, replacing, folder, restoring, replaced);
                // The store's files reach replaced-* together, whole; the data folder synced before the new store takes
                // the old one's name, so that no power cut can leave a replacing folder beside the new store.
                Directory.Move(replacing, replaced);
                Folders.Sync(folder);
            }
            File.Move(restoring, databasePath);
            Folders.Sync(folder);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new StoreCommandException(
                $"The restore stopped midway: {ex.Message}. The new store is complete in '{restoring}'; the replaced store's files are in '{replaced}', in '{replacing}', or still in place. Run the restore again.", ex);
        }
        return new Result(restored, replaced, next, note);
    }

    /// <summary>
    /// Moves the store's files that are still in the data folder into <paramref name="replacing"/> (created if missing),
    /// and syncs it: before the data folder, whose entries for the old store may only go once that folder durably holds them.
    /// </summary>
    private static void MoveStore(string databasePath, string replacing, string folder, string restoring, string? replaced)
    {
        try
        {
            if (!Directory.Exists(replacing))
            {
                Directory.CreateDirectory(replacing, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            var old = StoreFiles(databasePath);
            var kept = old.Select(file => Path.Combine(replacing, Path.GetFileName(file))).ToList();
            if (kept.FirstOrDefault(File.Exists) is { } clash)
            {
                // Only someone's hand puts a second store in the data folder after a cut-off restore (the service refuses
                // to start while the folder is there): which one is the replaced store is not for the restore to guess.
                throw new StoreCommandException(
                    $"'{replacing}' holds part of the store a cut-off restore was moving aside, and '{Path.Combine(folder, Path.GetFileName(clash))}' is there too. Move one of them out of the data directory, then run the restore again.");
            }
            for (var i = 0; i < old.Count; i++)
            {
                File.Move(old[i], kept[i]);
            }
            GiveToFolderOwner(folder, [replacing, .. kept]);
            Folders.Sync(replacing);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new StoreCommandException(
                $"The restore stopped midway: {ex.Message}. {(File.Exists(restoring) ? $"The new store is complete in '{restoring}'; t" : "T")}he replaced store's files are in '{replacing}'{(replaced is null ? "" : $" (to become '{replaced}')")} or still in place. Run the restore again.", ex);
        }
    }

    private static StoreSummary ReadBackup(string backup, TimeSpan busyTimeout)
    {
        // A copy cut off while SQLite wrote it (a backup killed midway, under its .partial name) has its rollback journal
        // beside it: opened read-only SQLite refuses to read it, and opened read-write it rolls the copy back to nothing.
        var journal = backup + "-journal";
        if (new FileInfo(journal) is { Exists: true, Length: > 0 })
        {
            throw new StoreCommandException(
                $"'{backup}' is not a complete backup: '{journal}' beside it is what a copy cut off midway leaves (a backup that was killed while it wrote). Restore a backup whose command said 'backed up to'.");
        }
        try
        {
            using var connection = StoreFile.OpenReadOnly(backup, busyTimeout);
            StoreFile.CheckIntegrity(connection, backup);
            return StoreFile.Describe(connection, backup, refuseNewer: true);
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == SqliteNotADatabase)
        {
            // Said as for another program's database, which the README promises: a text file, a tarball, a wrong path.
            throw new StoreCommandException($"'{backup}' is not an ApprovalBot store (it is not an SQLite database at all).", ex);
        }
        catch (SqliteException ex)
        {
            throw new StoreCommandException($"Could not read the backup '{backup}': {ex.Message}", ex);
        }
    }

    /// <summary>SQLITE_NOTADB: the file does not start as an SQLite database does.</summary>
    private const int SqliteNotADatabase = 26;

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
        catch (IOException ex)
        {
            throw new StoreCommandException($"The lock '{StoreLock.PathOf(databasePath)}' cannot be opened: {ex.Message}", ex);
        }
    }

    /// <summary>The new store, complete and durable, at <paramref name="restoring"/>; the first seq it will give out.</summary>
    private static long Build(
        string restoring, string backup, string? replaced, StoreSummary restored, (long Drafts, long Events) floors, DateTimeOffset now, TimeSpan busyTimeout)
    {
        StoreFile.CreateOwnerOnly(restoring);
        try
        {
            long next;
            using (var target = new SqliteConnection(ReadWrite(restoring)))
            {
                target.Open();
                StoreFile.Execute(target, "PRAGMA synchronous=FULL;");
                using (var source = StoreFile.OpenReadOnly(backup, busyTimeout))
                {
                    source.BackupDatabase(target);
                }
                // A copy of a WAL-mode file (a stopped store copied with cp, a replaced-* store) would carry WAL mode over,
                // and the marker and the counter jump below would then sit in a -wal beside this file, reaching it only by
                // the checkpoint at close, whose failure nobody hears of; the rename would then put a store in place
                // without them. In rollback mode the commit below writes this file itself.
                if (!string.Equals(StoreFile.Scalar(target, "PRAGMA journal_mode=DELETE") as string, "delete", StringComparison.Ordinal))
                {
                    throw new IOException($"SQLite would not take '{restoring}' out of WAL mode.");
                }
                using var tx = target.BeginTransaction();
                StoreFile.Execute(target, """
                    INSERT INTO sqlite_sequence (name, seq) SELECT t.name, 0 FROM (SELECT 'drafts' AS name UNION ALL SELECT 'events') AS t
                      WHERE t.name NOT IN (SELECT name FROM sqlite_sequence);
                    UPDATE sqlite_sequence SET seq = max(seq, $drafts) + $jump WHERE name = 'drafts';
                    UPDATE sqlite_sequence SET seq = max(seq, $events) + $jump WHERE name = 'events';
                    """, ("$drafts", floors.Drafts), ("$events", floors.Events), ("$jump", CounterJump));
                var details = new JsonObject { ["reason"] = "restored from a backup", ["backup"] = backup, ["drafts"] = restored.Drafts };
                if (replaced is not null)
                {
                    details["replaced"] = replaced;
                }
                // Not before the copy's latest change: with the old host's clock ahead of this one, an approval of the copy
                // would otherwise count as made after the restore and run on a route that does not dedupe. A clock skewed
                // the other way makes a tap after the restore count as the copy's: unknown, for a human, never run twice.
                var ms = Math.Max(now.ToUnixTimeMilliseconds(), Convert.ToInt64(StoreFile.Scalar(target,
                    "SELECT max(COALESCE((SELECT max(updated_at) FROM drafts), 0), COALESCE((SELECT max(at) FROM events), 0))"), CultureInfo.InvariantCulture));
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
            return next;
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
    /// The highest counters given out on this data directory: the store being replaced, and every store an earlier restore
    /// kept in <c>replaced-*</c> (a restore cut off after moving the store aside, then run again, finds it there; and
    /// restoring twice from one backup must not give out again what the first restored store gave out). A store too
    /// damaged to read (often the reason for the restore) is passed over, and the note says so.
    /// </summary>
    private static ((long Drafts, long Events) Floors, string? Note) Floors(string databasePath, string folder, TimeSpan busyTimeout)
    {
        var stores = Directory.GetDirectories(folder, "replaced-*").Append(StoreLock.ReplacingPathOf(databasePath))
            .Select(d => Path.Combine(d, Path.GetFileName(databasePath))).Prepend(databasePath).Where(File.Exists);
        long drafts = 0, events = 0;
        var unread = new List<string>();
        foreach (var store in stores)
        {
            try
            {
                using var connection = StoreFile.OpenReadOnly(store, busyTimeout);
                using var cmd = connection.CreateCommand();
                cmd.CommandText = "SELECT name, seq FROM sqlite_sequence WHERE name IN ('drafts', 'events')";
                using var reader = cmd.ExecuteReader();
                while (reader.Read())
                {
                    if (reader.GetString(0) == "drafts") drafts = Math.Max(drafts, reader.GetInt64(1));
                    else events = Math.Max(events, reader.GetInt64(1));
                }
            }
            catch (SqliteException ex)
            {
                unread.Add($"'{store}' ({ex.Message})");
            }
        }
        return ((drafts, events), unread.Count == 0 ? null
            : $"{string.Join(", ", unread)} could not be read, so the counters moved past the other stores' and the backup's only");
    }

    /// <summary>The store's files that exist: the database, its WAL and shared memory, a rollback journal.</summary>
    private static List<string> StoreFiles(string databasePath) =>
        new[] { "", "-wal", "-shm", "-journal" }.Select(suffix => databasePath + suffix).Where(File.Exists).ToList();

    /// <summary>
    /// Copies the replaced store's WAL into its database file first, so that the one file kept in <c>replaced-*</c> holds
    /// it all (and <c>sqlite3</c> opened read-only there still reads it whole). A store too damaged for that moves as it is,
    /// WAL and all, together as any store does.
    /// </summary>
    private static void Checkpoint(string databasePath, TimeSpan busyTimeout)
    {
        try
        {
            using var connection = new SqliteConnection(ReadWrite(databasePath));
            connection.Open();
            StoreFile.Execute(connection, $"PRAGMA busy_timeout={(long)busyTimeout.TotalMilliseconds}; PRAGMA wal_checkpoint(TRUNCATE);");
        }
        catch (SqliteException)
        {
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

    /// <summary>
    /// Run as root, the new files would be root's, and the service's user could not open them: they get the data
    /// directory's owner, as SQLite does for the journal files it creates as root.
    /// </summary>
    private static void GiveToFolderOwner(string folder, params string[] paths)
    {
        if (!Environment.IsPrivilegedProcess)
        {
            return;
        }
        var info = new ProcessStartInfo("chown") { RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("--reference=" + folder);
        foreach (var path in paths)
        {
            info.ArgumentList.Add(path);
        }
        string error;
        int exit;
        try
        {
            using var chown = Process.Start(info)!;
            error = chown.StandardError.ReadToEnd();
            chown.WaitForExit();
            exit = chown.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new StoreCommandException($"Could not run chown to give the new files the owner of '{folder}' ({ex.Message}); run the restore as the service's OS user instead of root.", ex);
        }
        if (exit != 0)
        {
            throw new StoreCommandException($"Could not give {string.Join(", ", paths.Select(p => $"'{p}'"))} the owner of '{folder}': {error.Trim()}");
        }
    }
}
