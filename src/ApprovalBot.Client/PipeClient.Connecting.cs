using System.Diagnostics.CodeAnalysis;
using System.IO.Pipes;
using System.Runtime.ExceptionServices;

namespace ApprovalBot.Client;

// Connecting: a plain name or a socket path, failing at once where no service can be.
public sealed partial class PipeClient
{
    /// <summary>
    /// Connects to the pipe. A plain name is the .NET named pipe of that name; an absolute path is the Unix
    /// socket at that path. Only a server running as the same OS user is accepted. Fails at once with
    /// <see cref="FileNotFoundException"/> when there is no socket file at the path (the service is not running, or
    /// serves another path); waits up to <paramref name="timeout"/> for one that is there to accept (a service
    /// starting), then throws <see cref="TimeoutException"/>. A connect the OS refuses otherwise (permission denied, a
    /// file where the path needs a folder), or a path too long for a socket, is a <see cref="PipeConnectException"/>
    /// naming the path and the reason.
    /// </summary>
    public static async Task<PipeClient> ConnectAsync(string pipeName, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var options = PipeOptions.Asynchronous | PipeOptions.CurrentUserOnly;
        return new PipeClient(await OpenAsync(pipeName, options, timeout, cancellationToken).ConfigureAwait(false), pipeName, options, timeout);
    }

    /// <summary>
    /// Connects with blocking I/O in mind (see the remarks): same names, same check that only a server running as
    /// the same OS user is accepted, same failures as <see cref="ConnectAsync"/>.
    /// </summary>
    public static PipeClient Connect(string pipeName, TimeSpan timeout)
    {
        var options = PipeOptions.CurrentUserOnly;
        return new PipeClient(Open(pipeName, options, timeout), pipeName, options, timeout);
    }

    private static async Task<NamedPipeClientStream> OpenAsync(string pipeName, PipeOptions options, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var stream = Unconnected(pipeName, options);
        try
        {
            await stream.ConnectAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            ThrowConnectFailed(stream, pipeName, e);
        }
        return stream;
    }

    /// <summary>A connected stream (blocking I/O unless <paramref name="options"/> say otherwise); approvalctl's blocking path opens its own with it.</summary>
    internal static NamedPipeClientStream Open(string pipeName, PipeOptions options, TimeSpan timeout)
    {
        var stream = Unconnected(pipeName, options);
        try
        {
            stream.Connect(timeout);
        }
        catch (Exception e)
        {
            ThrowConnectFailed(stream, pipeName, e);
        }
        return stream;
    }

    private static NamedPipeClientStream Unconnected(string pipeName, PipeOptions options)
    {
        ThrowIfNoSocket(pipeName);
        return new NamedPipeClientStream(".", pipeName, PipeDirection.InOut, options);
    }

    /// <summary>
    /// Disposes the stream whose connect failed and throws why: a <see cref="PipeConnectException"/> naming the reason the
    /// OS gave, or <paramref name="e"/> as it was thrown (a timeout, a cancellation, a server of another OS user).
    /// </summary>
    [DoesNotReturn]
    private static void ThrowConnectFailed(NamedPipeClientStream stream, string pipeName, Exception e)
    {
        // Also on the async path: a pipe stream's DisposeAsync does no more than call this.
        stream.Dispose();
        if (SocketPaths.ConnectFailed(SocketPathOf(pipeName), e) is { } failed)
        {
            throw failed;
        }
        ExceptionDispatchInfo.Throw(e);
    }

    /// <summary>
    /// .NET's client retries a socket path that does not exist until its timeout, as it does one that refuses (a service
    /// between binding and listening); with no file there no service is starting, so waiting would only delay the answer.
    /// A path too long for any socket is said first: no service can be there either.
    /// </summary>
    private static void ThrowIfNoSocket(string pipeName)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        var path = SocketPathOf(pipeName);
        if (SocketPaths.Unusable(path) is { } unusable)
        {
            throw unusable;
        }
        if (SocketPaths.NothingAt(path))
        {
            throw new FileNotFoundException(
                $"No ApprovalBot service at '{path}': there is no socket file there, so the service is not running, or it serves another path (its Pipe:Name; clients read APPROVALBOT_PIPE).", path);
        }
    }
}
