using ApprovalBot.Drafts;
using Microsoft.Data.Sqlite;

namespace ApprovalBot.Backups;

/// <summary>
/// <c>ApprovalBot backup &lt;file&gt;</c>: a consistent copy of the store while the service runs. <c>VACUUM INTO</c> reads
/// one snapshot in one read transaction, which never blocks the service's writer, and writes it compact to a new file;
/// the copy holds every draft whose receipt was sent before it began. <c>cp</c> of the live file misses what is still in
/// the WAL, and SQLite's online backup starts over whenever the service commits between two of its steps.
/// The copy is written under <see cref="PartialPathOf"/> and takes the backup's name only once synced and read back whole:
/// a backup cut off midway (killed, a reboot) leaves no file under that name that a restore, a rotation or an off-site
/// copy could take for a backup.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
internal static class StoreBackup
{
    /// <summary>Where the copy is written until it is complete.</summary>
    public static string PartialPathOf(string target) => target + ".partial";

    public static StoreSummary Run(string databasePath, string target, TimeSpan busyTimeout)
    {
        if (Directory.Exists(target))
        {
            throw new StoreCommandException($"'{target}' is a folder; name the new file to write the backup to.");
        }
        if (File.Exists(target))
        {
            throw new StoreCommandException($"'{target}' already exists; a backup never replaces a file.");
        }
        var folder = Path.GetDirectoryName(target)!;
        if (!Directory.Exists(folder))
        {
            throw new StoreCommandException($"The folder '{folder}' does not exist.");
        }
        if (!File.Exists(databasePath))
        {
            throw new StoreCommandException($"There is no store at '{databasePath}': check ApprovalBot:DataDirectory.");
        }

        var partial = PartialPathOf(target);
        using var source = Open(databasePath, busyTimeout);
        using var held = TakePartial(partial, target);
        StoreSummary copied;
        var moved = false;
        try
        {
            StoreFile.Execute(source, "VACUUM INTO $target", ("$target", partial));
            // SQLite does not sync what VACUUM INTO writes.
            held.Flush(flushToDisk: true);
            // Read back: what was written is what the restore will read.
            using (var copy = StoreFile.OpenReadOnly(partial, busyTimeout))
            {
                StoreFile.CheckIntegrity(copy, partial);
                copied = StoreFile.Describe(copy, partial, refuseNewer: false);
            }
            if (File.Exists(target))
            {
                throw new StoreCommandException($"'{target}' already exists (it was created while the backup ran); a backup never replaces a file.");
            }
            File.Move(partial, target);
            moved = true;
            Folders.Sync(folder);
        }
        catch (Exception ex)
        {
            Remove(partial);
            if (moved)
            {
                File.Delete(target);
            }
            throw ex is SqliteException or IOException
                ? new StoreCommandException($"Could not copy '{databasePath}' to '{target}': {ex.Message}", ex)
                : ex;
        }
        return copied;
    }

    /// <summary>
    /// The copy's file, empty, readable by its owner only (it holds every draft's text and the approvers' names), and
    /// locked against a second backup to the same name. One a backup that was cut off left is not locked: it and its
    /// rollback journal (which SQLite would otherwise roll back into the new copy) are started over.
    /// </summary>
    private static FileStream TakePartial(string partial, string target)
    {
        FileStream? held;
        try
        {
            held = StoreLock.TryTakeFile(partial, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new StoreCommandException($"Could not create '{target}': {ex.Message}", ex);
        }
        if (held is null)
        {
            throw new StoreCommandException($"Another backup is writing '{target}' now ('{partial}' is locked); wait for it, or name another file.");
        }
        try
        {
            File.Delete(partial + "-journal");
            held.SetLength(0);
            return held;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            held.Dispose();
            throw new StoreCommandException($"Could not create '{target}': {ex.Message}", ex);
        }
    }

    private static void Remove(string partial)
    {
        File.Delete(partial);
        File.Delete(partial + "-journal");
    }

    private static SqliteConnection Open(string databasePath, TimeSpan busyTimeout)
    {
        SqliteConnection? connection = null;
        try
        {
            connection = StoreFile.OpenReadOnly(databasePath, busyTimeout);
            StoreFile.Describe(connection, databasePath, refuseNewer: false);
            return connection;
        }
        catch (SqliteException ex)
        {
            connection?.Dispose();
            throw new StoreCommandException($"Could not read the store '{databasePath}': {ex.Message}", ex);
        }
        catch
        {
            connection?.Dispose();
            throw;
        }
    }
}
