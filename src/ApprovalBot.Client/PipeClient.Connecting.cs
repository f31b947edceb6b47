using System.IO.Pipes;

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
        ThrowIfNoSocket(pipeName);
        var stream = new NamedPipeClientStream(".", pipeName, PipeDirection.InOut, options);
        try
        {
            await stream.ConnectAsync(timeout, cancellationToken).ConfigureAwait(false);
            return stream;
        }
        catch (Exception e)
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            if (SocketPaths.ConnectFailed(SocketPathOf(pipeName), e) is { } failed)
            {
                throw failed;
            }
            throw;
        }
    }

    /// <summary>A connected stream (blocking I/O unless <paramref name="options"/> say otherwise); approvalctl's blocking path opens its own with it.</summary>
    internal static NamedPipeClientStream Open(string pipeName, PipeOptions options, TimeSpan timeout)
    {
        ThrowIfNoSocket(pipeName);
        var stream = new NamedPipeClientStream(".", pipeName, PipeDirection.InOut, options);
        try
        {
            stream.Connect(timeout);
            return stream;
        }
        catch (Exception e)
        {
            stream.Dispose();
            if (SocketPaths.ConnectFailed(SocketPathOf(pipeName), e) is { } failed)
            {
                throw failed;
            }
            throw;
        }
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
