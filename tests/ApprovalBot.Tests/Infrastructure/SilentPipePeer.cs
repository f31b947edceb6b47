using System.Net.Sockets;
using System.Text;

namespace ApprovalBot.Tests.Infrastructure;

/// <summary>A Unix socket peer that reads one request line and answers only when told to: a service that hangs.</summary>
internal sealed class SilentPipePeer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly TaskCompletionSource _received = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Socket? _peer;

    private SilentPipePeer(string path, Socket listener)
    {
        Path = path;
        _listener = listener;
    }

    public string Path { get; }

    public Task RequestReceived => _received.Task;

    public static SilentPipePeer Start()
    {
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ab-silent-" + Guid.NewGuid().ToString("N")[..8] + ".sock");
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen();
        var peer = new SilentPipePeer(path, listener);
        _ = peer.ReadOneRequestAsync();
        return peer;
    }

    private async Task ReadOneRequestAsync()
    {
        try
        {
            _peer = await _listener.AcceptAsync();
            var buffer = new byte[64 * 1024];
            var received = 0;
            while (received == 0 || buffer[received - 1] != (byte)'\n')
            {
                var read = await _peer.ReceiveAsync(buffer.AsMemory(received));
                if (read == 0) return;
                received += read;
            }
            _received.TrySetResult();
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            _received.TrySetException(ex);
        }
    }

    public void Answer(string line)
    {
        try
        {
            _peer!.Send(Encoding.UTF8.GetBytes(line + "\n"));
        }
        catch (SocketException)
        {
            // The client already closed its end: the late answer has nowhere to go, which is the point.
        }
    }

    public ValueTask DisposeAsync()
    {
        _peer?.Dispose();
        _listener.Dispose();
        File.Delete(Path);
        return ValueTask.CompletedTask;
    }
}
