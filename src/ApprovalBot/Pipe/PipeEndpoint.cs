using System.Net.Sockets;

namespace ApprovalBot.Pipe;

/// <summary>
/// This process's claim on the socket path: an exclusive lock on <c>&lt;socket&gt;.lock</c>, held until disposed
/// (the kernel drops it when the process dies, even by kill -9). Whoever holds it owns the path, so a socket file
/// found there is left by a dead process and is removed; a live instance is never displaced, however close
/// together two instances start. Anything at the path that is not a socket is refused, never removed.
/// </summary>
internal sealed class PipeEndpoint : IDisposable
{
    private readonly FileStream _lock;

    private PipeEndpoint(FileStream lockFile, string lockPath)
    {
        _lock = lockFile;
        LockPath = lockPath;
    }

    public string LockPath { get; }

    public static string LockPathOf(string socketPath) => socketPath + ".lock";

    /// <summary>Takes the path's lock and clears a stale socket file; throws with a clear message if another instance holds it.</summary>
    public static PipeEndpoint Claim(string socketPath)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(socketPath)!);
        // Before the lock: a path that names the store's file would otherwise meet the store's lock, and be refused as
        // "another process is serving the agent pipe".
        RefuseUnlessSocket(socketPath);
        var lockPath = LockPathOf(socketPath);
        var lockFile = OpenLock(socketPath, lockPath);
        try
        {
            RemoveStaleSocket(socketPath);
            return new PipeEndpoint(lockFile, lockPath);
        }
        catch
        {
            lockFile.Dispose();
            throw;
        }
    }

    private static FileStream OpenLock(string socketPath, string lockPath)
    {
        // FileShare.None takes an exclusive flock on Unix, as SqliteDatabase does for the data directory. Unlike a
        // connect probe it cannot be fooled by the moment between another instance's check and its bind. The file
        // stays behind on purpose: deleting a lock file lets two processes lock two different files of one name.
        var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        try
        {
            return new FileStream(lockPath, options);
        }
        catch (IOException ex)
        {
            throw new StartupRefusedException(
                $"Another process is serving the agent pipe at '{socketPath}' (lock '{lockPath}' is held). Stop it, or give this instance its own ApprovalBot:Pipe:Name; refusing to take the pipe over.", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new StartupRefusedException(
                $"The agent pipe's lock '{lockPath}' cannot be opened by this OS user (another user's service?). Give this instance its own ApprovalBot:Pipe:Name; refusing to take the pipe over.", ex);
        }
    }

    /// <summary>
    /// With the lock held, a socket file here is stale, unless something that does not take the lock (an older
    /// build, another program) answers on it: that is refused too.
    /// </summary>
    private static void RemoveStaleSocket(string socketPath)
    {
        if (!RefuseUnlessSocket(socketPath))
        {
            return;
        }
        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(socketPath));
                throw new StartupRefusedException(
                    $"Another process is serving the agent pipe at '{socketPath}'. Stop it, or give this instance its own ApprovalBot:Pipe:Name; refusing to take the pipe over.");
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable)
            {
                // Nobody listens: a stale socket file from a process that was killed.
            }
        }
        File.Delete(socketPath);
    }

    /// <summary>
    /// True if a socket is at the path, false if nothing is; anything else (a file, a directory, a link, a FIFO, a device)
    /// is refused, and never removed: only a socket can be a pipe left behind.
    /// </summary>
    private static bool RefuseUnlessSocket(string socketPath)
    {
        string? kind;
        try
        {
            kind = PathKind.Of(socketPath);
        }
        catch (IOException ex)
        {
            throw new StartupRefusedException(
                $"{ex.Message}; the agent pipe's path ApprovalBot:Pipe:Name must be free or hold a socket left by an earlier run. Refusing to start.", ex);
        }
        return kind switch
        {
            null => false,
            PathKind.Socket => true,
            _ => throw new StartupRefusedException(
                $"The agent pipe's path '{socketPath}' (ApprovalBot:Pipe:Name) is {kind}, not a socket: it is left as it is. Give the pipe a path of its own " +
                "(a socket left there by an earlier run is replaced; anything else never is). Refusing to start."),
        };
    }

    public void Dispose() => _lock.Dispose();
}
