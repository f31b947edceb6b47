using System.Runtime.InteropServices;

namespace ApprovalBot.Drafts;

/// <summary>Folders made durable: a file created or renamed in a folder, or a folder created, survives a power cut only once its parent is synced.</summary>
internal static class Folders
{
    /// <summary>fsync of a folder, so a file created or renamed in it is still there after a power cut.</summary>
    public static void Sync(string folder)
    {
        var fd = Libc.Open(folder, 0 /* O_RDONLY: a folder opens read-only */);
        if (fd < 0)
        {
            throw new IOException($"Could not open the folder '{folder}' to sync it (errno {Marshal.GetLastPInvokeError()}).");
        }
        try
        {
            if (Libc.Fsync(fd) != 0)
            {
                throw new IOException($"Could not sync the folder '{folder}' (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            _ = Libc.Close(fd);
        }
    }

    /// <summary>
    /// Creates <paramref name="directory"/> and the folders above it that are missing, and syncs the parent of each one
    /// created: SQLite syncs the folder of the files it creates, not that folder's own entry in its parent, so on a
    /// file system that does not order metadata a power cut soon after the first start could lose the whole new store.
    /// </summary>
    public static void CreateDurably(string directory)
    {
        var missing = new List<string>();
        for (var d = Path.GetFullPath(directory); !Directory.Exists(d); d = Path.GetDirectoryName(d)!)
        {
            missing.Add(d);
            if (Path.GetDirectoryName(d) is null)
            {
                break;
            }
        }
        Directory.CreateDirectory(directory);
        for (var i = missing.Count - 1; i >= 0; i--)
        {
            Sync(Path.GetDirectoryName(missing[i])!);
        }
    }

    /// <summary>
    /// open, fsync and close as the process itself sees them (the main program's symbol scope), not bound to libc's own
    /// copies as a DllImport of "libc" is: a test's LD_PRELOAD shim then sees these calls like SQLite's, and can tell a
    /// rename that was synced from one that was not. Delegates, because function pointers would need unsafe code.
    /// </summary>
    private static class Libc
    {
        private static readonly nint Process = NativeLibrary.GetMainProgramHandle();

        public static readonly OpenFunction Open = Marshal.GetDelegateForFunctionPointer<OpenFunction>(NativeLibrary.GetExport(Process, "open"));

        public static readonly FdFunction Fsync = Marshal.GetDelegateForFunctionPointer<FdFunction>(NativeLibrary.GetExport(Process, "fsync"));

        public static readonly FdFunction Close = Marshal.GetDelegateForFunctionPointer<FdFunction>(NativeLibrary.GetExport(Process, "close"));

        [UnmanagedFunctionPointer(CallingConvention.Cdecl, SetLastError = true)]
        public delegate int OpenFunction([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl, SetLastError = true)]
        public delegate int FdFunction(int fd);
    }
}
