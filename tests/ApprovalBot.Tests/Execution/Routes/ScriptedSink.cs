using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ApprovalBot.Tests.Execution.Routes;

/// <summary>
/// A webhook sink on a bare loopback socket that reads the whole request, then answers with the raw bytes its script gives
/// for the request (and closes); resets the connection without answering when the script gives null; or, given
/// <see cref="Hold"/>, keeps the connection open without a word until it is disposed. A reset or a silence leaves the
/// request possibly acted on, and the service cannot know. HttpListener can do none of the three.
/// </summary>
internal sealed class ScriptedSink : IAsyncDisposable
{
    /// <summary>The script's answer for a request the sink reads and never answers.</summary>
    public const string Hold = "\0hold";

    private readonly TcpListener _tcp = new(IPAddress.Loopback, 0);
    private readonly Func<string, string?> _answer;
    private readonly ConcurrentBag<Socket> _held = [];
    private readonly Task _serving;

    public ScriptedSink(Func<string, string?> answer)
    {
        _answer = answer;
        _tcp.Start();
        Url = $"http://127.0.0.1:{((IPEndPoint)_tcp.LocalEndpoint).Port}/hook/";
        _serving = ServeAsync();
    }

    public string Url { get; }

    public ConcurrentQueue<string> Keys { get; } = new();

    /// <summary>The request line of every request received ("POST /hook/ HTTP/1.1").</summary>
    public ConcurrentQueue<string> RequestLines { get; } = new();

    private async Task ServeAsync()
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await _tcp.AcceptSocketAsync();
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                return;
            }
            var request = await ReadRequestAsync(socket);
            RequestLines.Enqueue(request.Split("\r\n")[0]);
            var key = request.Split("\r\n").FirstOrDefault(l => l.StartsWith("Idempotency-Key:", StringComparison.OrdinalIgnoreCase));
            Keys.Enqueue(key?["Idempotency-Key:".Length..].Trim() ?? "");
            var answer = _answer(request);
            if (answer == Hold)
            {
                _held.Add(socket);
                continue;
            }
            using (socket)
            {
                if (answer is not null)
                {
                    await socket.SendAsync(Encoding.UTF8.GetBytes(answer), SocketFlags.None);
                    socket.Shutdown(SocketShutdown.Send);
                }
                else
                {
                    socket.LingerState = new LingerOption(true, 0);
                }
            }
        }
    }

    private static async Task<string> ReadRequestAsync(Socket socket)
    {
        var received = new StringBuilder();
        var buffer = new byte[8192];
        while (true)
        {
            var text = received.ToString();
            var headerEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (headerEnd >= 0)
            {
                var length = text[..headerEnd].Split("\r\n")
                    .Where(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
                    .Select(l => int.Parse(l["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture))
                    .FirstOrDefault();
                if (Encoding.UTF8.GetByteCount(text[(headerEnd + 4)..]) >= length)
                {
                    return text;
                }
            }
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None);
            if (read == 0)
            {
                return received.ToString();
            }
            received.Append(Encoding.UTF8.GetString(buffer, 0, read));
        }
    }

    public async ValueTask DisposeAsync()
    {
        _tcp.Stop();
        await _serving;
        foreach (var socket in _held)
        {
            socket.Dispose();
        }
    }
}
