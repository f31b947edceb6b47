using System.IO.Pipes;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace ApprovalBot.Pipe;

/// <summary>
/// Ends the sending side of a connected pipe's socket (Unix only: there the pipe handle is the socket's descriptor), which
/// a pipe stream cannot do: the agent reads what was written, then end-of-input, while the service can still read what
/// the agent goes on sending.
/// </summary>
internal static class SocketSending
{
    private const int ShutWr = 1; // SHUT_WR, the same on Linux and macOS

    /// <summary>Ends sending on <paramref name="stream"/>; nothing if it is closed already or the agent is gone (nothing left to tell it).</summary>
    public static void End(PipeStream stream)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        SafePipeHandle handle;
        try
        {
            handle = stream.SafePipeHandle;
        }
        catch (Exception ex) when (ex is ObjectDisposedException or InvalidOperationException)
        {
            return; // closed meanwhile: the close ends sending too
        }
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            _ = shutdown((int)handle.DangerousGetHandle(), ShutWr);
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    [DllImport("libc", SetLastError = true)]
#pragma warning disable SYSLIB1054 // LibraryImport would need unsafe code in the host for one blittable call.
    private static extern int shutdown(int fd, int how);
#pragma warning restore SYSLIB1054
}
