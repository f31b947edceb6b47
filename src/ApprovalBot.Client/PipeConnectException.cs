namespace ApprovalBot.Client;

/// <summary>
/// <see cref="PipeClient"/> could not connect to the socket path for a reason other than there being no service there
/// (<see cref="FileNotFoundException"/>) or none accepting in time (<see cref="TimeoutException"/>): the OS refused the
/// connect (permission denied, a file where the path needs a folder, a symbolic link loop) or the path is too long for a
/// Unix socket. <see cref="Reason"/> says which in words; the OS's own exception, if any, is the inner exception.
/// </summary>
public sealed class PipeConnectException : IOException
{
    public PipeConnectException()
        : this("", "the connect failed")
    {
    }

    public PipeConnectException(string message)
        : base(message)
    {
        SocketPath = "";
        Reason = message;
    }

    public PipeConnectException(string message, Exception? innerException)
        : base(message, innerException)
    {
        SocketPath = "";
        Reason = message;
    }

    public PipeConnectException(string socketPath, string reason, Exception? innerException = null)
        : base($"Cannot connect to the ApprovalBot service at '{socketPath}': {reason}.", innerException)
    {
        SocketPath = socketPath;
        Reason = reason;
    }

    /// <summary>The socket path the connect was for.</summary>
    public string SocketPath { get; }

    /// <summary>Why the connect failed, in words, e.g. <c>not a directory: '/srv/app' on the path is a file, not a folder</c>.</summary>
    public string Reason { get; }
}
