using System.Globalization;
using System.IO.Pipes;
using System.Text.Json;
using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Pipe;

/// <summary>
/// Serves protocol v1 on the local pipe: many connections at once, many requests per connection, only
/// for the service's own OS user. A refused or broken connection never stops the accept loop. At most
/// <c>Pipe:MaxConnections</c> are served at once; an idle one makes room for an agent waiting (<see cref="ConnectionSlots"/>).
/// </summary>
internal sealed partial class AgentPipeServer(
    PipeDispatcher dispatcher, IOptions<AgentPipeOptions> options, IOptions<KindsOptions> kinds, TimeProvider time, ILogger<AgentPipeServer> logger)
    : HostLoop
{
    // Several pending accepts, so a burst of connecting agents is not served one accept at a time.
    private const int AcceptLoops = 4;
    private static readonly TimeSpan AnswerGraceAtStop = TimeSpan.FromSeconds(2);

    /// <summary>Ample for any line a local agent writes in one go (a socket moves a gigabyte a second); bounds a sender that never ends it.</summary>
    private static readonly TimeSpan RefusedLineReadFor = TimeSpan.FromSeconds(10);

    /// <summary>
    /// After a <c>line_timeout</c>, how long the rest of the line may pause before the connection is closed anyway: an agent
    /// still writing it gets through, one that stays stalled (the usual case) does not hold its slot for long.
    /// </summary>
    private static readonly TimeSpan TimedOutLineQuietFor = TimeSpan.FromSeconds(1);

    private static readonly byte[] Newline = "\n"u8.ToArray();
    private readonly WarningThrottle _lineTimeoutWarnings = new(time, TimeSpan.FromMinutes(1));
    private readonly WarningThrottle _tooLargeWarnings = new(time, TimeSpan.FromMinutes(1));
    // Read on start, not in the constructor, so ValidateOnStart reports every bad key at once first.
    private AgentPipeOptions _options = null!;
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ConnectionSlots? _slots;
    private PipeEndpoint? _endpoint;

    // Never accepts. .NET shares one listening socket among a path's server instances and closes it (resetting
    // every connection still queued on it) when no instance is left; an instance that accepts may let go of it,
    // so without an anchor a connection arriving right at start-up could close the socket under the others.
    private NamedPipeServerStream? _anchor;

    // Connections being served; at stop the path's lock is let go only after the last of them, since .NET
    // unlinks the socket file when its last server instance goes and must not unlink a successor's.
    private int _serving;
    private int _stopping;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once the socket accepts connections (or fails if it could not be opened).</summary>
    public Task Listening => _listening.Task;

    /// <summary>
    /// Claims the path and binds it before the host goes on: from .NET 10 ExecuteAsync runs after StartAsync
    /// returns, and a claim checked here but bound there left a window in which a second instance could take
    /// the path as stale.
    /// </summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        _options = options.Value;
        try
        {
            Claim();
            _slots = new ConnectionSlots(_options.MaxConnections, time, logger);
            _anchor = CreateServer();
            RestrictToOwner();
        }
        catch (Exception ex)
        {
            Release();
            _listening.TrySetException(ex);
            throw;
        }
        WarnOfKindsLongerThanALine();
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Takes the path's lock, unless held already: before the host starts (a <see cref="StartupLock"/>), or at start.</summary>
    public void Claim() => _endpoint ??= PipeEndpoint.Claim(options.Value.SocketPath);

    /// <summary>
    /// A warning, not a refusal to start: such a setting worked before this check, and an agent whose line is too long
    /// is told so (<c>too_large</c>, nothing stored); but the operator learns it now rather than from a refused draft.
    /// </summary>
    private void WarnOfKindsLongerThanALine()
    {
        foreach (var (kind, o) in kinds.Value.Kinds)
        {
            var longest = LineBudget.LongestSubmit(o.MaxLength, _options.MaxContextBytes);
            if (longest > _options.MaxLineBytes)
            {
                LogKindLongerThanALine(kind, o.MaxLength, longest, _options.MaxLineBytes);
            }
        }
    }

    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        try
        {
            var servers = Enumerable.Range(0, AcceptLoops).Select(_ => CreateServer()).ToList();
            LogListening(_options.SocketPath);
            _listening.TrySetResult();
            await Task.WhenAll(servers.Select(server => AcceptLoopAsync(server, stoppingToken))).ConfigureAwait(false);
            // Both sides with full fences, so either this sees the last connection gone or that one sees the stop.
            Interlocked.Exchange(ref _stopping, 1);
            if (Volatile.Read(ref _serving) > 0)
            {
                await _drained.Task.ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            _listening.TrySetException(ex);
            throw;
        }
        finally
        {
            Release();
        }
    }

    /// <summary>The anchor (the socket file goes with the path's last server instance), then the path's lock.</summary>
    private void Release()
    {
        Interlocked.Exchange(ref _anchor, null)?.Dispose();
        Interlocked.Exchange(ref _endpoint, null)?.Dispose();
    }

    public override void Dispose()
    {
        base.Dispose();
        Release();
    }

    private NamedPipeServerStream CreateServer() => new(
        _options.Name, PipeDirection.InOut, NamedPipeServerStream.MaxAllowedServerInstances,
        PipeTransmissionMode.Byte, PipeOptions.Asynchronous | PipeOptions.CurrentUserOnly);

    private void RestrictToOwner()
    {
        // CurrentUserOnly checks the peer at accept; owner-only file mode keeps other users from connecting at all.
        if (!OperatingSystem.IsWindows() && File.Exists(_options.SocketPath))
        {
            File.SetUnixFileMode(_options.SocketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    private async Task AcceptLoopAsync(NamedPipeServerStream? server, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            server ??= CreateServer();
            try
            {
                await server.WaitForConnectionAsync(stoppingToken).ConfigureAwait(false);
                // Held here while it waits for a slot: this loop accepts no other meanwhile, so at most one connection
                // per loop waits in the service and the rest in the socket's backlog.
                var connection = new PipeConnection(server, time);
                await _slots!.AdmitAsync(connection, stoppingToken).ConfigureAwait(false);
                var accepted = server;
                server = null;
                Interlocked.Increment(ref _serving);
                _ = ServeAsync(accepted, connection, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                await server!.DisposeAsync().ConfigureAwait(false);
                return;
            }
            catch (UnauthorizedAccessException ex)
            {
                LogUnauthorized(ex, _options.SocketPath);
                await server!.DisposeAsync().ConfigureAwait(false);
                server = null;
            }
            catch (Exception ex)
            {
                // Whatever it was, the connection holds no slot (AdmitAsync leaves none behind) and the loop goes on.
                LogAcceptFailed(ex);
                await server!.DisposeAsync().ConfigureAwait(false);
                server = null;
            }
        }
        if (server is not null)
        {
            await server.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task ServeAsync(NamedPipeServerStream stream, PipeConnection connection, CancellationToken stoppingToken)
    {
        try
        {
            AgentHangup.Begin(stream);
            // The read for the next request ends at the stop, or once the connection is closed for a waiting agent.
            using var readEnds = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, connection.ClosedToken);
            var reader = new LineReader(stream, _options.MaxLineBytes, connection, _options.LineTimeout, time);
            while (!stoppingToken.IsCancellationRequested)
            {
                LineReader.Outcome outcome;
                ReadOnlyMemory<byte> line;
                try
                {
                    (outcome, line) = await reader.ReadAsync(readEnds.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break;
                }
                catch (OperationCanceledException) when (connection.IsClosed)
                {
                    outcome = LineReader.Outcome.Closed;
                    line = default;
                }
                if (outcome == LineReader.Outcome.Closed)
                {
                    await SayClosedAsync(stream).ConfigureAwait(false);
                    break;
                }
                if (outcome == LineReader.Outcome.EndOfStream)
                {
                    return;
                }
                if (outcome == LineReader.Outcome.TimedOut)
                {
                    await SayLineTimedOutAsync(stream, reader.Buffered).ConfigureAwait(false);
                    await EndAfterLastAnswerAsync(stream, reader, stoppingToken, TimedOutLineQuietFor, _options.MaxLineBytes).ConfigureAwait(false);
                    return;
                }
                if (outcome == LineReader.Outcome.TooLarge)
                {
                    if (_tooLargeWarnings.ShouldLog(out var suppressed))
                    {
                        LogTooLarge(_options.MaxLineBytes, suppressed);
                    }
                    await AnswerAsync(stream, Response.Failure(ErrorCodes.TooLarge,
                        $"request line exceeds {_options.MaxLineBytes} bytes; the connection is closed"), stoppingToken).ConfigureAwait(false);
                    await EndAfterLastAnswerAsync(stream, reader, stoppingToken).ConfigureAwait(false);
                    return;
                }
                var afterReply = AfterReply.Begin();
                try
                {
                    var response = await dispatcher.DispatchAsync(line, stoppingToken).ConfigureAwait(false);
                    await AnswerAsync(stream, response, stoppingToken).ConfigureAwait(false);
                }
                finally
                {
                    // Also when the agent went away before its answer: what was stored is still logged.
                    afterReply.Run();
                }
            }
            // Closed for a waiting agent, or the service is stopping: what the agent sent since is not served.
            await EndAfterLastAnswerAsync(stream, reader, stoppingToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The agent went away or the service is stopping; its committed writes stand.
        }
        catch (Exception ex)
        {
            LogConnectionFailed(ex);
        }
        finally
        {
            // The slot first: a connection whose stream is closed must no longer be one a newcomer may close.
            _slots!.Release(connection);
            await stream.DisposeAsync().ConfigureAwait(false);
            if (Interlocked.Decrement(ref _serving) == 0 && Volatile.Read(ref _stopping) == 1)
            {
                _drained.TrySetResult();
            }
        }
    }

    /// <summary>
    /// The answer, unasked, to whatever the agent sends on a connection closed for a waiting agent: nothing of it is
    /// carried out (the connection was idle, and is served no further), so a client may send it again on a new connection.
    /// The connection then ends at once (<see cref="EndAfterLastAnswerAsync"/>, with no refused line to wait for): a request
    /// that came meanwhile is dropped, and the agent reads this line, then the end.
    /// </summary>
    private async Task SayClosedAsync(Stream stream)
    {
        // Bounded, also while the service runs: an idle agent that reads nothing must not hold the slot it is giving up.
        using var limit = new CancellationTokenSource(AnswerGraceAtStop);
        var closed = Response.Failure(ErrorCodes.Unavailable,
            $"the service closed this idle connection to serve an agent waiting for one of its {_options.MaxConnections} connections " +
            "(Pipe:MaxConnections); this request was not carried out: connect again and send it again") with { Closed = true };
        await WriteAsync(stream, closed, limit.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// The agent sent part of a request line and not its end within <c>Pipe:LineTimeout</c>: a connection mid-line is busy,
    /// never closed for a waiting agent, so a stuck or hostile one held its slot for as long as it stayed connected. The
    /// partial line is dropped unread (nothing of it is carried out), and the connection closed once this is written
    /// (bounded as <see cref="SayClosedAsync"/> is) and what more of the line still comes is dropped too (<see cref="EndAfterLastAnswerAsync"/>).
    /// </summary>
    private async Task SayLineTimedOutAsync(Stream stream, int received)
    {
        var timeout = _options.LineTimeout;
        if (_lineTimeoutWarnings.ShouldLog(out var suppressed))
        {
            LogLineTimedOut(timeout.TotalSeconds, received, suppressed);
        }
        using var limit = new CancellationTokenSource(AnswerGraceAtStop);
        var answer = Response.Failure(ErrorCodes.LineTimeout,
            $"the request line did not end within {timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s (Pipe:LineTimeout): {received} bytes of it came but no \\n; " +
            "nothing of it was carried out and the connection is closed: connect again and send the whole request, ended by \\n");
        await WriteAsync(stream, answer, limit.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// Ends a connection after its last answer (too_large, line_timeout, closed, or the one a stop let through) so that the
    /// agent reads that answer and then the end. A Unix socket closed with bytes of the agent's unread is reset: the agent's
    /// read after the answer failed (ECONNRESET), and a write still under way too (EPIPE), so an agent that writes its whole
    /// request before it reads never saw its answer. So sending ends first (the agent reads the answer, then the end); the
    /// rest of a refused line, which the agent may still be writing (a text of many megabytes, the rest of a line that timed
    /// out), is read and thrown away, for at most <see cref="RefusedLineReadFor"/>, or <see cref="AnswerGraceAtStop"/> once
    /// the service is stopping, and within <paramref name="quietFor"/> and <paramref name="maxBytes"/> when given; once its
    /// newline came, so is what the agent goes on writing behind it until it pauses (<see cref="TimedOutLineQuietFor"/>), so
    /// that a write of requests pipelined behind the refused line finishes rather than failing midway (EPIPE); then
    /// receiving ends too (a write of the agent's after that fails at once, as on a closed socket) and what came before it,
    /// requests pipelined behind the last answered one included, is dropped, so the close leaves nothing unread.
    /// </summary>
    private static async Task EndAfterLastAnswerAsync(
        PipeStream stream, LineReader reader, CancellationToken stoppingToken, TimeSpan? quietFor = null, long maxBytes = long.MaxValue)
    {
        HalfClose.Sending(stream);
        using (var timeout = new CancellationTokenSource(RefusedLineReadFor))
        using (stoppingToken.Register(static t => ((CancellationTokenSource)t!).CancelAfter(AnswerGraceAtStop), timeout))
        {
            try
            {
                if (await reader.SkipRestOfRefusedLineAsync(timeout.Token, quietFor, maxBytes).ConfigureAwait(false))
                {
                    await reader.DropWhileComingAsync(quietFor ?? TimedOutLineQuietFor, timeout.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
            }
        }
        if (HalfClose.Receiving(stream))
        {
            // Nothing more can come, so this reads a socket buffer's worth at most, without waiting; bounded all the same.
            using var limit = new CancellationTokenSource(AnswerGraceAtStop);
            await reader.DropRestAsync(limit.Token).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Answers go out also once the service is stopping (a submit's receipt, a wait told the service is shutting
    /// down); an agent that does not read its answer holds the stop up for at most <see cref="AnswerGraceAtStop"/>
    /// from the stop or from the answer, whichever came later.
    /// </summary>
    private async Task AnswerAsync(Stream stream, Response response, CancellationToken stoppingToken)
    {
        using var grace = new CancellationTokenSource();
        // Runs at once if the stop has already come.
        using var stop = stoppingToken.Register(static g => ((CancellationTokenSource)g!).CancelAfter(AnswerGraceAtStop), grace);
        await WriteAsync(stream, response, grace.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// The response and its newline in one write: two writes were two sends on the socket, waking the agent's
    /// reader twice (once for a line without its end) for every response.
    /// </summary>
    private async Task WriteAsync(Stream stream, Response response, CancellationToken cancellationToken)
    {
        var json = Serialize(response);
        var line = new byte[json.Length + 1];
        json.CopyTo(line, 0);
        line[^1] = Newline[0];
        await stream.WriteAsync(line, cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The response as JSON or, when it cannot be written, an <c>internal</c> error in its place: the agent gets an answer
    /// and the connection goes on serving. A draft stored by an older build can hold a context string that is not valid
    /// Unicode, which the writer refuses; that failed here, after the dispatcher's error handling, and dropped the
    /// connection without an answer.
    /// </summary>
    private byte[] Serialize(Response response)
    {
        try
        {
            return JsonSerializer.SerializeToUtf8Bytes(response, ProtocolJson.Responses.Response);
        }
        catch (Exception ex)
        {
            LogUnwritable(ex);
            return JsonSerializer.SerializeToUtf8Bytes(
                Response.Failure(ErrorCodes.Internal, "internal error: the answer could not be written as JSON; see the service log"), ProtocolJson.Responses.Response);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "A pipe response could not be written as JSON; answered internal instead")]
    private partial void LogUnwritable(Exception ex);

    [LoggerMessage(Level = LogLevel.Information, Message = "Agent pipe listening at {SocketPath}")]
    private partial void LogListening(string socketPath);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kind {Kind} allows texts of {MaxLength} characters, whose submit can take {LongestBytes} bytes " +
        "(12 a character as a JSON encoder may escape it, plus Pipe:MaxContextBytes and 4096 for the rest): over Pipe:MaxLineBytes " +
        "{MaxLineBytes}, so some texts within MaxLength are refused too_large. Set ApprovalBot:Pipe:MaxLineBytes to at least {LongestBytes}")]
    private partial void LogKindLongerThanALine(string kind, int maxLength, long longestBytes, int maxLineBytes);

    [LoggerMessage(Level = LogLevel.Warning, EventName = "SecurityPipeRefused", Message = "Security: refused a pipe connection from another OS user at {SocketPath}")]
    private partial void LogUnauthorized(Exception ex, string socketPath);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pipe accept failed; still serving")]
    private partial void LogAcceptFailed(Exception ex);

    [LoggerMessage(Level = LogLevel.Warning, EventName = "PipeLineTooLarge", Message =
        "Refused a request line over {MaxLineBytes} bytes; connection closed. {Suppressed} more since the last such warning")]
    private partial void LogTooLarge(int maxLineBytes, int suppressed);

    [LoggerMessage(Level = LogLevel.Warning, EventName = "PipeLineTimedOut", Message =
        "Closed an agent connection whose request line did not end within {LineTimeoutSeconds} s of Pipe:LineTimeout: " +
        "{ReceivedBytes} bytes of it came but no newline; answered line_timeout, nothing carried out. An agent stuck or " +
        "stopped mid-write held a connection slot meanwhile. {Suppressed} more since the last such warning")]
    private partial void LogLineTimedOut(double lineTimeoutSeconds, int receivedBytes, int suppressed);

    [LoggerMessage(Level = LogLevel.Error, Message = "A pipe connection failed unexpectedly")]
    private partial void LogConnectionFailed(Exception ex);
}
