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
    /// <exception cref="IOException">The OS refused the lock file itself: a read-only file system, a full disk, an I/O error.</exception>
    public static FileStream? TryTake(string databasePath) => TryTakeFile(PathOf(databasePath), UnixFileMode.None);

    /// <summary>
    /// The same exclusive lock on any file, created (with <paramref name="createMode"/>, or the default mode for
    /// <see cref="UnixFileMode.None"/>) if missing; null while another process holds it.
    /// </summary>
    /// <exception cref="UnauthorizedAccessException">This OS user may not write the file.</exception>
    /// <exception cref="IOException">The OS refused the file itself.</exception>
    public static FileStream? TryTakeFile(string path, UnixFileMode createMode)
    {
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None };
            if (createMode != UnixFileMode.None && !OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = createMode;
            }
            return new FileStream(path, options);
        }
        catch (IOException ex) when (IsHeldElsewhere(ex))
        {
            return null;
        }
    }

    // .NET gives a flock that would block as an IOException whose HResult is the errno; any other IOException is the OS
    // refusing the file (a data directory remounted read-only after disk errors), which "another process holds it"
    // would send the operator looking for a process that does not exist.
    private static bool IsHeldElsewhere(IOException ex) => ex.HResult == (OperatingSystem.IsMacOS() ? MacWouldBlock : LinuxWouldBlock)
        || (OperatingSystem.IsWindows() && ex.HResult == WindowsSharingViolation);

    private const int LinuxWouldBlock = 11;
    private const int MacWouldBlock = 35;
    private const int WindowsSharingViolation = unchecked((int)0x80070020);

    /// <summary>The file a restore builds the new store in; left behind only by a restore that did not finish.</summary>
    public static string RestoringPathOf(string databasePath) => databasePath + ".restoring";

    /// <summary>
    /// The folder a restore moves the replaced store's files into before it renames the folder, in one step, to
    /// <c>replaced-&lt;time&gt;</c>; left behind only by a restore cut off while it moved them.
    /// </summary>
    public static string ReplacingPathOf(string databasePath) => databasePath + ".replacing";
}
