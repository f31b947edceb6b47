using System.Net.Sockets;

namespace ApprovalBot.Pipe;

/// <summary>
/// Decides whether the socket path may be taken: a file left by a killed process is removed, a live
/// instance answering on it is never displaced.
/// </summary>
internal static class PipeEndpoint
{
    public static void Claim(string socketPath)
    {
        if (!File.Exists(socketPath))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(socketPath)!);
            return;
        }
        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(socketPath));
                throw new InvalidOperationException(
                    $"Another process is serving the agent pipe at '{socketPath}'. Stop it, or give this instance its own ApprovalBot:Pipe:Name; refusing to take the pipe over.");
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable)
            {
                // Nobody listens: a stale socket file from a process that was killed.
            }
        }
        File.Delete(socketPath);
    }
}
