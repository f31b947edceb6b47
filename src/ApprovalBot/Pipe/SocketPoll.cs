using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace ApprovalBot.Pipe;

/// <summary>
/// A look at a connected pipe's socket without reading from it (Unix only: there the pipe handle is the socket's
/// descriptor). What a read cannot tell without taking bytes or blocking: whether input is waiting, whether the peer
/// hung up.
/// </summary>
internal static class SocketPoll
{
    public const short PollIn = 0x01;
    public const short PollHup = 0x10; // POLLHUP, the same on Linux and macOS

    /// <summary>Which of <paramref name="events"/> (and POLLHUP, always reported) hold now; POLLHUP once the handle is closed.</summary>
    public static short Now(SafePipeHandle handle, short events)
    {
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var fd = new PollFd { Fd = (int)handle.DangerousGetHandle(), Events = events };
            return poll(ref fd, 1, 0) == 1 ? fd.Revents : (short)0;
        }
        catch (ObjectDisposedException)
        {
            return PollHup;
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [DllImport("libc", SetLastError = true)]
#pragma warning disable SYSLIB1054 // LibraryImport would need unsafe code in the host for one blittable call.
    private static extern int poll(ref PollFd fd, nuint count, int timeoutMs);
#pragma warning restore SYSLIB1054
}
