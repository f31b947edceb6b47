using System.Runtime.InteropServices;

namespace ApprovalBot.Pipe;

/// <summary>
/// What is at a path, the path itself and not what a symbolic link there points to, as lstat says. .NET has no managed way
/// to tell a socket from a regular file, a FIFO or a device, and the pipe's start removes a stale socket at its path: a
/// connect to any of the others is refused too, so without this a mistyped ApprovalBot:Pipe:Name deleted whatever file
/// it named. statx, whose buffer has one layout on every architecture, unlike struct stat's.
/// </summary>
internal static class PathKind
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1;
    private const int ModeOffset = 28;
    private const int ENOENT = 2;

    /// <summary>Nothing there (null), a socket (<c>"a socket"</c>), or what it is instead, in words for a message.</summary>
    /// <exception cref="IOException">The system cannot say (statx missing or failing for another reason than ENOENT).</exception>
    public static string? Of(string path)
    {
        var buffer = new byte[256];
        int result;
        try
        {
            result = statx(AtFdCwd, path, AtSymlinkNoFollow, StatxType, buffer);
        }
        catch (EntryPointNotFoundException ex)
        {
            throw new IOException($"This system's C library has no statx, so what is at '{path}' cannot be told", ex);
        }
        if (result != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno == ENOENT)
            {
                return null;
            }
            throw new IOException($"Cannot tell what is at '{path}': {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        var mode = BitConverter.ToUInt16(buffer, ModeOffset);
        return (mode & 0xF000) switch
        {
            0xC000 => Socket,
            0x8000 => "a regular file",
            0x4000 => "a directory",
            0xA000 => "a symbolic link",
            0x1000 => "a FIFO",
            0x2000 => "a character device",
            0x6000 => "a block device",
            _ => "not a socket",
        };
    }

    public const string Socket = "a socket";

    [DllImport("libc", SetLastError = true)]
#pragma warning disable SYSLIB1054 // LibraryImport would need unsafe code in the host for one blittable call.
    private static extern int statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, [Out] byte[] buffer);
#pragma warning restore SYSLIB1054
}
