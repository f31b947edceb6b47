using System.Text;

namespace ApprovalBot.Tests.Infrastructure;

/// <summary>
/// Socket paths whose connect the OS refuses for a reason other than no service there, and the reason the client gives:
/// ENOTDIR (was taken for a missing socket, "not running"), ELOOP (was a bare SocketException, "Unknown socket error"),
/// and a path too long for a socket (was an ArgumentOutOfRangeException from deep inside the connect).
/// </summary>
internal static class RefusedSocketPath
{
    public const string UnderAFile = "under a regular file";
    public const string LinkLoop = "through a symbolic link loop";
    public const string TooLong = "too long for a socket";

    /// <summary>The path of case <paramref name="what"/> made in <paramref name="dir"/>, and why a connect to it fails, as the client says it.</summary>
    public static async Task<(string Path, string Why)> MakeAsync(TempDirectory dir, string what)
    {
        switch (what)
        {
            case UnderAFile:
                await File.WriteAllTextAsync(dir.Combine("run"), "a file, not a folder");
                return (Path.Combine(dir.Combine("run"), "approvalbot.sock"), $"not a directory: '{dir.Combine("run")}' on the path is a file, not a folder");
            case LinkLoop:
                var loop = dir.Combine("loop.sock");
                File.CreateSymbolicLink(loop, loop);
                return (loop, "too many levels of symbolic links: a symbolic link on the path leads back to itself");
            case TooLong:
                var path = dir.Combine(new string('s', 120) + ".sock");
                return (path, $"the path is {Encoding.UTF8.GetByteCount(path)} bytes long, and a Unix socket path takes at most 107");
            default:
                throw new ArgumentOutOfRangeException(nameof(what), what, "no such case");
        }
    }
}
