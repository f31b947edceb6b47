using System.Net.Sockets;
using System.Text;

namespace ApprovalBot.Client;

/// <summary>
/// A socket path as a connect sees it: whether it provably names nothing (no service there, said at once), and why a
/// connect to it failed, in words. .NET reports a connect error it has no <see cref="SocketError"/> for (ENOTDIR: a file
/// where the path needs a folder; ELOOP) as "Unknown socket error", and a path too long for a socket as an
/// <see cref="ArgumentOutOfRangeException"/> (now refused before any connect: <see cref="Unusable"/>); both reached callers
/// as they were, and ENOTDIR was taken for no socket.
/// </summary>
internal static class SocketPaths
{
    /// <summary>sockaddr_un.sun_path is 108 bytes on Linux, the terminating NUL included; the service refuses a <c>Pipe:Name</c> whose path is longer by this same limit.</summary>
    public const int MaxBytes = 107;

    /// <summary>
    /// True only when the path provably names nothing. Not <see cref="Path.Exists"/>, which is false also when the path
    /// cannot be looked at (a folder on it closed to this OS user) or cannot be (a file where it needs a folder): the
    /// connect then fails saying so, not "not running".
    /// </summary>
    public static bool NothingAt(string path)
    {
        try
        {
            File.GetAttributes(path);
            return false;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return FileOnThePath(path) is null;
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            return false;
        }
    }

    /// <summary>Why no socket can be at <paramref name="path"/> whatever runs, or null: it is too long for one.</summary>
    public static PipeConnectException? Unusable(string path)
    {
        var bytes = Encoding.UTF8.GetByteCount(path);
        return bytes > MaxBytes
            ? new PipeConnectException(path, $"the path is {bytes} bytes long, and a Unix socket path takes at most {MaxBytes}")
            : null;
    }

    /// <summary>A failed connect to <paramref name="path"/> as the client reports it: a <see cref="PipeConnectException"/> naming the reason, or null to rethrow <paramref name="e"/> as it is.</summary>
    public static PipeConnectException? ConnectFailed(string path, Exception e) =>
        e is SocketException socket ? new PipeConnectException(path, Reason(path, socket), socket) : null;

    private static string Reason(string path, SocketException socket)
    {
        if (socket.SocketErrorCode == SocketError.AccessDenied)
        {
            return "permission denied: the socket, or a folder on its path, is not open to this OS user";
        }
        if (FileOnThePath(path) is { } file)
        {
            return $"not a directory: '{file}' on the path is a file, not a folder";
        }
        if (LinksInALoop(path))
        {
            return "too many levels of symbolic links: a symbolic link on the path leads back to itself";
        }
        return socket.SocketErrorCode == SocketError.SocketError
            ? "the system refused the connect (an error .NET has no name for)"
            : LowerFirst(socket.Message);
    }

    /// <summary>The deepest existing folder of the path's if it is a file, not a folder (ENOTDIR); null if it is a folder.</summary>
    private static string? FileOnThePath(string path)
    {
        for (var above = Path.GetDirectoryName(path); !string.IsNullOrEmpty(above); above = Path.GetDirectoryName(above))
        {
            if (File.Exists(above))
            {
                return above;
            }
            if (Directory.Exists(above))
            {
                return null;
            }
        }
        return null;
    }

    private static bool LinksInALoop(string path)
    {
        try
        {
            File.ResolveLinkTarget(path, returnFinalTarget: true);
            return false;
        }
        catch (Exception e) when (e.GetType() == typeof(IOException))
        {
            // What .NET throws for ELOOP; a missing target or a closed folder are other types.
            return true;
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            return false;
        }
    }

    private static string LowerFirst(string message) =>
        message.Length > 1 && char.IsUpper(message[0]) && char.IsLower(message[1]) ? char.ToLowerInvariant(message[0]) + message[1..] : message;
}
