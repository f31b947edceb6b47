using System.IO.Pipes;
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
internal sealed class ServiceCaller(string pipeName, bool json, TextWriter stdout, TimeSpan? responseTimeout = null)
{
    /// <summary>Short on purpose: a local service accepts at once, and a script should learn quickly that none runs.</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(2);

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
    /// single request/response nothing overlaps with. Same checks (only a server of our OS user), same errors.
    /// </summary>
    public string Exchange(byte[] line)
    {
        ThrowIfNoSocket();
        NamedPipeClientStream stream;
        try
        {
            stream = new NamedPipeClientStream(".", PipeName, PipeDirection.InOut, PipeOptions.CurrentUserOnly);
            try
            {
                stream.Connect((int)ConnectTimeout.TotalMilliseconds);
            }
            catch
            {
                stream.Dispose();
                throw;
            }
        }
        catch (TimeoutException)
        {
            throw CliException.Unavailable($"no service answered on '{PipeName}' within {ConnectTimeout.TotalSeconds:0} s");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CannotConnect(e);
        }
        var timedOut = 0;
        using (stream)
        // Closing the stream ends a read blocked on it: how a blocking read gets a time limit.
        using (new Timer(_ => { Volatile.Write(ref timedOut, 1); stream.Dispose(); }, null, _responseTimeout, Timeout.InfiniteTimeSpan))
        {
            try
            {
                var request = new byte[line.Length + 1];
                line.CopyTo(request, 0);
                request[^1] = (byte)'\n';
                stream.Write(request);
                stream.Flush();
                var response = new MemoryStream();
                var buffer = new byte[16 * 1024];
                while (true)
                {
                    var read = stream.Read(buffer);
                    if (read == 0)
                    {
                        if (Volatile.Read(ref timedOut) == 1)
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
            catch (Exception e) when (e is IOException or ObjectDisposedException && Volatile.Read(ref timedOut) == 1)
            {
                throw NoAnswer(_responseTimeout);
            }
            catch (IOException e)
            {
                throw CliException.Unavailable($"connection to '{PipeName}' lost before an answer: {ErrorText.IoFailure(e)}");
            }
        }
    }

    /// <summary>
    /// With no socket file at the path no service runs there, not even one starting: said at once, where a connect would
    /// wait out <see cref="ConnectTimeout"/> to say less. A socket file that is there is waited for as before.
    /// </summary>
    private void ThrowIfNoSocket()
    {
        if (!OperatingSystem.IsWindows() && !Path.Exists(PipeClient.SocketPathOf(PipeName)))
        {
            throw NotRunning();
        }
    }

    private CliException NotRunning()
    {
        var path = PipeClient.SocketPathOf(PipeName);
        var where = path == PipeName ? $"at '{path}': no socket file there" : $"on pipe '{PipeName}': no socket file at '{path}'";
        return CliException.Unavailable(
            $"the service is not running {where}. Start it, or point --pipe or APPROVALBOT_PIPE at the Pipe:Name it serves");
    }

    // UnauthorizedAccess: no right to the socket, or it belongs to another OS user, so it is not our service.
    private CliException CannotConnect(Exception e) => CliException.Unavailable(e is UnauthorizedAccessException
        ? $"cannot connect to '{PipeName}': permission denied, or the service there runs as another OS user"
        : $"cannot connect to '{PipeName}': {ErrorText.IoFailure(e)}");

    private CliException NoAnswer(TimeSpan limit) => CliException.Unavailable(
        $"no answer from the service on '{PipeName}' within {limit.TotalSeconds:0.###} s; it may still carry the request out: run the same command again (a submit with the same id is answered with the original receipt)");

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
        ThrowIfNoSocket();
        try
        {
            return await PipeClient.ConnectAsync(PipeName, ConnectTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (FileNotFoundException)
        {
            // Gone since the look above.
            throw NotRunning();
        }
        catch (TimeoutException)
        {
            throw CliException.Unavailable($"no service answered on '{PipeName}' within {ConnectTimeout.TotalSeconds:0} s");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CannotConnect(e);
        }
    }
}
