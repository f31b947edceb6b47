using System.Net.Sockets;
using System.Text;

namespace ApprovalBot.Tests.Infrastructure;

/// <summary>
/// A Unix socket a test plays the service on, connection by connection and line by line: for what a client does when
/// the service answers or closes in a particular way at a particular moment.
/// </summary>
internal sealed class ScriptedPipePeer : IAsyncDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);
    private readonly Socket _listener;

    private ScriptedPipePeer(string path, Socket listener)
    {
        Path = path;
        _listener = listener;
    }

    public string Path { get; }

    public static ScriptedPipePeer Start()
    {
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ab-scripted-" + Guid.NewGuid().ToString("N")[..8] + ".sock");
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen();
        return new ScriptedPipePeer(path, listener);
    }

    /// <summary>The next connection a client makes.</summary>
    public async Task<Connection> AcceptAsync() => new(await _listener.AcceptAsync().WaitAsync(Limit));

    /// <summary>Stops listening and removes the socket file: no service there any more.</summary>
    public void StopListening()
    {
        _listener.Dispose();
        File.Delete(Path);
    }

    /// <summary>
    /// Stops listening but leaves the socket file, as a service killed with SIGKILL does: connects to it are refused, and
    /// a client cannot tell it from a service still starting. (Closing the socket removes the file at the path it was
    /// bound to, so it is moved away for that and back.)
    /// </summary>
    public void Die()
    {
        var aside = Path + ".aside";
        File.Move(Path, aside);
        _listener.Dispose();
        File.Move(aside, Path);
    }

    public ValueTask DisposeAsync()
    {
        StopListening();
        return ValueTask.CompletedTask;
    }

    public sealed class Connection(Socket socket) : IDisposable
    {
        private readonly StreamReader _reader = new(new NetworkStream(socket, ownsSocket: false), Encoding.UTF8);

        public async Task<string?> ReadLineAsync() => await _reader.ReadLineAsync().WaitAsync(Limit);

        public void WriteLine(string line) => socket.Send(Encoding.UTF8.GetBytes(line + "\n"));

        public void Dispose()
        {
            _reader.Dispose();
            socket.Dispose();
        }
    }
}
