using System.Diagnostics;
using System.IO.Pipes;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using ApprovalBot.Client;

namespace ApprovalBot.Cli;

/// <summary>
/// Sends one request over a fresh <see cref="PipeClient"/> connection and turns every way it can fail into a
/// <see cref="CliException"/> with the right exit code. With <c>--json</c> the service's response line is
/// echoed verbatim, so scripts see exactly what the service said, including fields newer than this CLI; an error answer
/// is then said only there, not on stderr as well.
/// </summary>
internal sealed class ServiceCaller(string pipeName, bool json, TextWriter stdout, TimeSpan? responseTimeout = null, TimeSpan? connectTimeout = null)
{
    /// <summary>Short on purpose: a local service accepts at once, and a script should learn quickly that none runs.</summary>
    public static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(2);

    private readonly TimeSpan _connectTimeout = connectTimeout ?? DefaultConnectTimeout;

    /// <summary>How long to wait for an answer, on top of the time a <c>wait</c> asks the service to wait.</summary>
    public static readonly TimeSpan DefaultResponseTimeout = TimeSpan.FromSeconds(30);

    private readonly TimeSpan _responseTimeout = responseTimeout is { } t && t <= TimeSpan.Zero
        ? throw new ArgumentOutOfRangeException(nameof(responseTimeout), t, "must be positive")
        : responseTimeout ?? DefaultResponseTimeout;

    public string PipeName { get; } = pipeName;

    public bool Json { get; } = json;

    public async Task<Response> SendAsync<T>(T request, CancellationToken cancellationToken)
    {
        // The request goes through the Client's source-generated contract (no reflection at start-up); the raw
        // send is used instead of the typed helpers only so that --json can print the line as received.
        var typeInfo = (JsonTypeInfo<T>)ProtocolJson.Requests.GetTypeInfo(typeof(T));
        var line = JsonSerializer.SerializeToUtf8Bytes(request, typeInfo);
        // The service's default wait is 30 s when the request names none.
        var serviceWait = request is WaitRequest wait ? TimeSpan.FromMilliseconds(Math.Max(0, wait.TimeoutMs ?? 30_000)) : TimeSpan.Zero;
        var responseLine = await ExchangeAsync(line, cancellationToken, serviceWait).ConfigureAwait(false);
        return await InterpretAsync(responseLine).ConfigureAwait(false);
    }

    /// <summary>Sends one request line on a fresh connection and returns the response line as received.</summary>
    public async Task<string> ExchangeAsync(byte[] line, CancellationToken cancellationToken, TimeSpan serviceWait = default)
    {
        await using var client = await ConnectAsync(cancellationToken).ConfigureAwait(false);
        client.ResponseTimeout = _responseTimeout + serviceWait;
        string? responseLine;
        try
        {
            responseLine = await client.SendRawAsync(line, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw NoAnswer(_responseTimeout + serviceWait);
        }
        catch (RequestNotCarriedOutException e)
        {
            throw NotCarriedOut(e.InnerException);
        }
        catch (IOException e)
        {
            throw CliException.Unavailable($"connection to '{PipeName}' lost before an answer: {ErrorText.IoFailure(e)}");
        }
        if (responseLine is null)
        {
            throw CliException.Unavailable($"the service on '{PipeName}' closed the connection without answering");
        }
        return responseLine;
    }

    /// <summary>
    /// <see cref="ExchangeAsync"/> with blocking I/O, for the one-request submit fast path: async pipe I/O starts
    /// the thread pool and the socket event loop (a thread of its own), ~15 ms of a CLI process's life, for a
    /// single request/response nothing overlaps with. Same checks (only a server of our OS user), same errors, and like
    /// <see cref="PipeClient"/> it sends the request again on a new connection, within the response timeout, when the
    /// service closed the connection before reading it (the write failed, or the answer is the <c>"closed":true</c> line).
    /// </summary>
    public string Exchange(byte[] line)
    {
        var request = new byte[line.Length + 1];
        line.CopyTo(request, 0);
        request[^1] = (byte)'\n';
        var current = Connect(_connectTimeout);
        var started = Stopwatch.GetTimestamp();
        var timedOut = 0;
        // Closing the stream ends a read blocked on it: how a blocking read gets a time limit.
        using var timer = new Timer(_ => { Volatile.Write(ref timedOut, 1); Volatile.Read(ref current).Dispose(); }, null, _responseTimeout, Timeout.InfiniteTimeSpan);
        try
        {
            for (var resends = 0; ; resends++)
            {
                try
                {
                    try
                    {
                        current.Write(request);
                        current.Flush();
                    }
                    catch (IOException) when (Volatile.Read(ref timedOut) == 0)
                    {
                        // The service closed the connection before the request reached it: send it again.
                        Reconnect(ref current, started, resends, () => Volatile.Read(ref timedOut) == 1);
                        continue;
                    }
                    var response = ReadLine(current, () => Volatile.Read(ref timedOut) == 1);
                    if (!IsClosedUnserved(response))
                    {
                        return response;
                    }
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException && Volatile.Read(ref timedOut) == 1)
                {
                    throw NoAnswer(_responseTimeout);
                }
                catch (IOException e)
                {
                    throw CliException.Unavailable($"connection to '{PipeName}' lost before an answer: {ErrorText.IoFailure(e)}");
                }
                Reconnect(ref current, started, resends, () => Volatile.Read(ref timedOut) == 1);
            }
        }
        finally
        {
            Volatile.Read(ref current).Dispose();
        }
    }

    /// <summary>One response line, without its end; the CLI's error when the connection ends before a byte of it.</summary>
    private string ReadLine(NamedPipeClientStream stream, Func<bool> timedOut)
    {
        var response = new MemoryStream();
        var buffer = new byte[16 * 1024];
        while (true)
        {
            var read = stream.Read(buffer);
            if (read == 0)
            {
                if (timedOut())
                {
                    throw NoAnswer(_responseTimeout);
                }
                if (response.Length == 0)
                {
                    throw CliException.Unavailable($"the service on '{PipeName}' closed the connection without answering");
                }
                break;
            }
            var newline = Array.IndexOf(buffer, (byte)'\n', 0, read);
            response.Write(buffer, 0, newline >= 0 ? newline : read);
            if (newline >= 0)
            {
                break;
            }
        }
        var text = System.Text.Encoding.UTF8.GetString(response.GetBuffer(), 0, (int)response.Length);
        return text.EndsWith('\r') ? text[..^1] : text;
    }

    /// <summary>
    /// The line the service writes before it closes an idle connection: the request just sent was not read. Told by its
    /// shape, without a JSON parser (the fast path loads none): the service writes it as exactly this object, and a
    /// <c>"closed":true</c> that ends a line cannot be inside the message, whose quotes are escaped.
    /// </summary>
    internal static bool IsClosedUnserved(string line) =>
        line.StartsWith("{\"ok\":false,\"error\":{\"code\":\"unavailable\",", StringComparison.Ordinal)
        && line.EndsWith("},\"closed\":true}", StringComparison.Ordinal);

    /// <summary>
    /// A new connection for a request the service did not read: after a short pause from the second resend on, within the
    /// connect timeout and the time left of the response timeout, whichever is shorter. The old one is closed.
    /// </summary>
    private void Reconnect(ref NamedPipeClientStream current, long started, int resends, Func<bool> timedOut)
    {
        var left = _responseTimeout - Stopwatch.GetElapsedTime(started);
        if (resends > 0 && left > TimeSpan.Zero)
        {
            var pause = TimeSpan.FromMilliseconds(Math.Min(1000, 50 << Math.Min(resends - 1, 5)));
            Thread.Sleep(pause < left ? pause : left);
            left = _responseTimeout - Stopwatch.GetElapsedTime(started);
        }
        if (timedOut() || left <= TimeSpan.Zero)
        {
            throw NotCarriedOut(null);
        }
        NamedPipeClientStream fresh;
        try
        {
            fresh = Connect(left < _connectTimeout ? left : _connectTimeout);
        }
        catch (CliException e)
        {
            throw CliException.Unavailable(
                $"the service on '{PipeName}' closed the connection before the request reached it, and connecting again failed ({e.Message}); it was not carried out: run the same command again");
        }
        var old = Interlocked.Exchange(ref current, fresh);
        old.Dispose();
        if (timedOut())
        {
            // The time limit closed the old stream meanwhile, not this one.
            fresh.Dispose();
            throw NotCarriedOut(null);
        }
    }

    /// <summary>
    /// A connected stream, or the CLI's error for why there is none. The client's own connect, with its checks: no socket
    /// file at the path is said at once (no service runs there, not even one starting), where a connect would wait out the
    /// connect timeout to say less; a socket file that is there is waited for.
    /// </summary>
    private NamedPipeClientStream Connect(TimeSpan timeout)
    {
        try
        {
            return PipeClient.Open(PipeName, PipeOptions.CurrentUserOnly, timeout);
        }
        catch (FileNotFoundException)
        {
            throw NotRunning();
        }
        catch (TimeoutException)
        {
            throw NoService(timeout);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CannotConnect(e);
        }
    }

    private CliException NotRunning()
    {
        var path = PipeClient.SocketPathOf(PipeName);
        var where = path == PipeName ? $"at '{path}': no socket file there" : $"on pipe '{PipeName}': no socket file at '{path}'";
        return CliException.Unavailable(
            $"the service is not running {where}. Start it, or point --pipe or APPROVALBOT_PIPE at the Pipe:Name it serves");
    }

    // UnauthorizedAccess: the service there runs as another OS user (the client checks the peer), so it is not ours. A
    // socket or a folder on its path closed to this user fails the connect itself, with EACCES. Any other refused connect
    // (a file where the path needs a folder, a path too long for a socket) means the path is wrong.
    private CliException CannotConnect(Exception e) => CliException.Unavailable(e switch
    {
        UnauthorizedAccessException => $"cannot connect to '{PipeName}': permission denied, or the service there runs as another OS user",
        PipeConnectException { InnerException: SocketException { SocketErrorCode: SocketError.AccessDenied } } =>
            $"cannot connect to '{PipeName}': permission denied: the socket, or a folder on its path, is not open to this OS user (the service runs as another user?)",
        PipeConnectException refused => $"cannot connect to {Where(refused.SocketPath)}: {refused.Reason}; point --pipe or APPROVALBOT_PIPE at the Pipe:Name the service serves",
        _ => $"cannot connect to '{PipeName}': {ErrorText.IoFailure(e)}",
    });

    /// <summary>The socket path, with the pipe name it came from when that is a plain name.</summary>
    private string Where(string path) => path == PipeName ? $"'{path}'" : $"pipe '{PipeName}' at '{path}'";

    /// <summary>Something is at the path (a missing one is said at once), but nothing accepted the connection.</summary>
    private CliException NoService(TimeSpan timeout) =>
        CliException.Unavailable($"no service answered on '{PipeName}' within {timeout.TotalSeconds:0.###} s: " +
            $"'{PipeClient.SocketPathOf(PipeName)}' is there but nothing accepts connections on it (the socket file of a service that was killed, " +
            "or not a socket at all). Start the service, or point --pipe or APPROVALBOT_PIPE at the Pipe:Name it serves");

    private CliException NoAnswer(TimeSpan limit) => CliException.Unavailable(
        $"no answer from the service on '{PipeName}' within {limit.TotalSeconds:0.###} s; it may still carry the request out: run the same command again (a submit with the same id is answered with the original receipt)");

    /// <summary>A request the service closed its connection on before reading it, with no new connection in time (or none at all).</summary>
    private CliException NotCarriedOut(Exception? why) => CliException.Unavailable(
        $"the service on '{PipeName}' closed the connection before the request reached it, and " + why switch
        {
            null or TimeoutException => $"no new connection served it within {_responseTimeout.TotalSeconds:0.###} s",
            _ => $"connecting again failed: {ErrorText.IoFailure(why)}",
        } + "; it was not carried out: run the same command again");

    /// <summary>Reads a response line with the contract, echoes it for --json, and turns an error answer into its exit code.</summary>
    public async Task<Response> InterpretAsync(string responseLine)
    {
        Response response;
        try
        {
            response = PipeClient.ParseResponse(responseLine);
        }
        catch (JsonException e)
        {
            throw CliException.Internal($"the service answered with a line that is not a protocol v1 response: {e.Message}");
        }
        if (Json)
        {
            await stdout.WriteLineAsync(responseLine).ConfigureAwait(false);
        }
        if (!response.Ok)
        {
            // With --json the line just printed is the error, said once: a script reads stdout, and the exit code.
            throw Json ? CliException.PrintedAnswer(response.Error) : CliException.FromProtocol(response.Error);
        }
        return response;
    }

    private async Task<PipeClient> ConnectAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await PipeClient.ConnectAsync(PipeName, _connectTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (FileNotFoundException)
        {
            throw NotRunning();
        }
        catch (TimeoutException)
        {
            throw NoService(_connectTimeout);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CannotConnect(e);
        }
    }
}
