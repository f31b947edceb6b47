using ApprovalBot.Drafts;
using Microsoft.Data.Sqlite;

namespace ApprovalBot.Backups;

/// <summary>
/// <c>ApprovalBot backup &lt;file&gt;</c>: a consistent copy of the store while the service runs. <c>VACUUM INTO</c> reads
/// one snapshot in one read transaction, which never blocks the service's writer, and writes it compact to a new file;
/// the copy holds every draft whose receipt was sent before it began. <c>cp</c> of the live file misses what is still in
/// the WAL, and SQLite's online backup starts over whenever the service commits between two of its steps.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
internal static class StoreBackup
{
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

        using (var source = Open(databasePath, busyTimeout))
        {
            try
            {
                // Created first, so the copy is never readable by others (it holds every draft's text and the approvers'
                // names); VACUUM INTO writes into an empty file.
                StoreFile.CreateOwnerOnly(target);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new StoreCommandException($"Could not create '{target}': {ex.Message}", ex);
            }
            try
            {
                StoreFile.Execute(source, "VACUUM INTO $target", ("$target", target));
                StoreFile.Flush(target);
                Folders.Sync(folder);
            }
            catch (Exception ex)
            {
                File.Delete(target);
                throw ex is SqliteException or IOException
                    ? new StoreCommandException($"Could not copy '{databasePath}' to '{target}': {ex.Message}", ex)
                    : ex;
            }
        }
        // Read back: what was written is what the restore will read.
        try
        {
            using var copy = StoreFile.OpenReadOnly(target, busyTimeout);
            StoreFile.CheckIntegrity(copy, target);
            return StoreFile.Describe(copy, target, refuseNewer: false);
        }
        catch (SqliteException ex)
        {
            File.Delete(target);
            throw new StoreCommandException($"Could not read back the copy '{target}': {ex.Message}", ex);
        }
        catch
        {
            File.Delete(target);
            throw;
        }
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
