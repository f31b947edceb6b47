using System.IO.Pipes;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace ApprovalBot.Pipe;

/// <summary>
/// Ends one direction of a connected pipe's socket (Unix only: there the pipe handle is the socket's descriptor), which a
/// pipe stream cannot do. Each is nothing once the stream is closed (the close ends both) or the agent is gone.
/// </summary>
internal static class HalfClose
{
    private const int ShutRd = 0, ShutWr = 1; // SHUT_RD, SHUT_WR: the same on Linux and macOS

    /// <summary>The agent reads what was written, then end-of-input, while the service can still read what the agent goes on sending.</summary>
    public static void Sending(PipeStream stream) => End(stream, ShutWr);

    /// <summary>
    /// Nothing the agent writes from now on is taken (its write fails at once, EPIPE); what it wrote before is still there to
    /// read, then end-of-input. False where this cannot be done (Windows, a closed stream): a read may then still wait.
    /// </summary>
    public static bool Receiving(PipeStream stream) => End(stream, ShutRd);

    private static bool End(PipeStream stream, int how)
    {
        if (OperatingSystem.IsWindows())
        {
            return false;
        }
        SafePipeHandle handle;
        try
        {
            handle = stream.SafePipeHandle;
        }
        catch (Exception ex) when (ex is ObjectDisposedException or InvalidOperationException)
        {
            return false; // closed meanwhile: the close ended both ways
        }
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            return shutdown((int)handle.DangerousGetHandle(), how) == 0;
        }
        catch (ObjectDisposedException)
        {
            return false;
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
