namespace ApprovalBot.Drafts;

/// <summary>
/// The lock file beside <c>approvals.db</c> that makes one process its only writer: the running service, or a restore
/// (which must not replace the files under a service, nor have one start in the middle of it).
/// </summary>
internal static class StoreLock
{
    public static string PathOf(string databasePath) => databasePath + ".lock";

    /// <summary>
    /// Takes the lock, or returns null while another process holds it. FileShare.None takes an exclusive flock on Unix;
    /// the kernel drops it when the process dies, even by kill -9.
    /// </summary>
    /// <exception cref="UnauthorizedAccessException">This OS user may not write the lock file.</exception>
    public static FileStream? TryTake(string databasePath)
    {
        try
        {
            return new FileStream(PathOf(databasePath), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>The file a restore builds the new store in; left behind only by a restore that did not finish.</summary>
    public static string RestoringPathOf(string databasePath) => databasePath + ".restoring";
}
