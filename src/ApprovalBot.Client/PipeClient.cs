using System.IO.Pipes;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace ApprovalBot.Client;

/// <summary>
/// A connection to ApprovalBot's agent pipe speaking protocol v1: one JSON request per line, one JSON
/// response per line. Requests on one client are sent one at a time; open several clients for parallelism.
/// </summary>
/// <remarks>
/// Two ways to use it. <see cref="ConnectAsync"/> and the <c>…Async</c> methods suit callers that do other work
/// while a request is out. <see cref="Connect"/> and the blocking methods (<see cref="Submit"/>, …) suit an agent
/// that waits for each answer anyway: the calling thread sleeps in the read and the answer wakes it directly,
/// without the hand-over from the socket event loop to a thread-pool worker that async I/O pays per response
/// (a third of a submit's round trip here; see docs/PERFORMANCE.md). Both kinds of method work on either client.
/// </remarks>
public sealed class PipeClient : IAsyncDisposable, IDisposable
{
    /// <summary>The pipe name used when neither an option nor <c>APPROVALBOT_PIPE</c> names one.</summary>
    public const string DefaultPipeName = "approvalbot";

    private readonly string _pipeName;
    private readonly PipeOptions _pipeOptions;
    private readonly TimeSpan _connectTimeout;
    // Replaced (under the gate) when the service closed the connection before a request reached it.
    private NamedPipeClientStream _stream;
    private StreamReader _reader;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private TimeSpan _responseTimeout = TimeSpan.FromSeconds(30);
    private string? _closedBecause;
    private volatile bool _disposed;

    private PipeClient(NamedPipeClientStream stream, string pipeName, PipeOptions pipeOptions, TimeSpan connectTimeout)
    {
        _stream = stream;
        _reader = ReaderOf(stream);
        _pipeName = pipeName;
        _pipeOptions = pipeOptions;
        _connectTimeout = connectTimeout;
    }

    private static StreamReader ReaderOf(Stream stream) =>
        new(stream, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: false, bufferSize: 64 * 1024, leaveOpen: true);

    /// <summary>The pipe name from <c>APPROVALBOT_PIPE</c>, else the default.</summary>
    public static string PipeNameFromEnvironment() =>
        Environment.GetEnvironmentVariable("APPROVALBOT_PIPE") is { Length: > 0 } name ? name : DefaultPipeName;

    /// <summary>
    /// The socket path a pipe name stands for on Unix, as .NET's named pipes place it: an absolute path is itself, a plain
    /// name is <c>CoreFxPipe_&lt;name&gt;</c> in the temporary folder (<c>$TMPDIR</c>, else <c>/tmp</c>).
    /// </summary>
    public static string SocketPathOf(string pipeName) =>
        Path.IsPathRooted(pipeName) ? pipeName : Path.Combine(Path.GetTempPath(), "CoreFxPipe_" + pipeName);

    /// <summary>
    /// Connects to the pipe. A plain name is the .NET named pipe of that name; an absolute path is the Unix
    /// socket at that path. Only a server running as the same OS user is accepted. Fails at once with
    /// <see cref="FileNotFoundException"/> when there is no socket file at the path (the service is not running, or
    /// serves another path); waits up to <paramref name="timeout"/> for one that is there to accept (a service
    /// starting), then throws <see cref="TimeoutException"/>. A connect the OS refuses otherwise (permission denied, a
    /// file where the path needs a folder), or a path too long for a socket, is a <see cref="PipeConnectException"/>
    /// naming the path and the reason.
    /// </summary>
    public static async Task<PipeClient> ConnectAsync(string pipeName, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var options = PipeOptions.Asynchronous | PipeOptions.CurrentUserOnly;
        return new PipeClient(await OpenAsync(pipeName, options, timeout, cancellationToken).ConfigureAwait(false), pipeName, options, timeout);
    }

    /// <summary>
    /// Connects with blocking I/O in mind (see the remarks): same names, same check that only a server running as
    /// the same OS user is accepted, same failures as <see cref="ConnectAsync"/>.
    /// </summary>
    public static PipeClient Connect(string pipeName, TimeSpan timeout)
    {
        var options = PipeOptions.CurrentUserOnly;
        return new PipeClient(Open(pipeName, options, timeout), pipeName, options, timeout);
    }

    private static async Task<NamedPipeClientStream> OpenAsync(string pipeName, PipeOptions options, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ThrowIfNoSocket(pipeName);
        var stream = new NamedPipeClientStream(".", pipeName, PipeDirection.InOut, options);
        try
        {
            await stream.ConnectAsync(timeout, cancellationToken).ConfigureAwait(false);
            return stream;
        }
        catch (Exception e)
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            if (SocketPaths.ConnectFailed(SocketPathOf(pipeName), e) is var failed && failed != e)
            {
                throw failed;
            }
            throw;
        }
    }

    /// <summary>A connected stream (blocking I/O unless <paramref name="options"/> say otherwise); approvalctl's blocking path opens its own with it.</summary>
    internal static NamedPipeClientStream Open(string pipeName, PipeOptions options, TimeSpan timeout)
    {
        ThrowIfNoSocket(pipeName);
        var stream = new NamedPipeClientStream(".", pipeName, PipeDirection.InOut, options);
        try
        {
            stream.Connect(timeout);
            return stream;
        }
        catch (Exception e)
        {
            stream.Dispose();
            if (SocketPaths.ConnectFailed(SocketPathOf(pipeName), e) is var failed && failed != e)
            {
                throw failed;
            }
            throw;
        }
    }

    /// <summary>
    /// .NET's client retries a socket path that does not exist until its timeout, as it does one that refuses (a service
    /// between binding and listening); with no file there no service is starting, so waiting would only delay the answer.
    /// A path too long for any socket is said first: no service can be there either.
    /// </summary>
    private static void ThrowIfNoSocket(string pipeName)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        var path = SocketPathOf(pipeName);
        if (SocketPaths.Unusable(path) is { } unusable)
        {
            throw unusable;
        }
        if (SocketPaths.NothingAt(path))
        {
            throw new FileNotFoundException(
                $"No ApprovalBot service at '{path}': there is no socket file there, so the service is not running, or it serves another path (its Pipe:Name; clients read APPROVALBOT_PIPE).", path);
        }
    }

    /// <summary>
    /// How long a call waits for its answer, on top of any time the request itself asks the service to wait (the
    /// <c>timeout_ms</c> of <c>wait</c>). Default 30 s; <see cref="Timeout.InfiniteTimeSpan"/> waits for ever. A call
    /// that runs out throws <see cref="TimeoutException"/> and closes the connection (see <see cref="IsClosed"/>); if it
    /// ran out while the request provably had not reached the service, <see cref="RequestNotCarriedOutException"/> instead.
    /// </summary>
    public TimeSpan ResponseTimeout
    {
        get => _responseTimeout;
        set
        {
            if (value != Timeout.InfiniteTimeSpan && (value <= TimeSpan.Zero || value > MaxLimit))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, $"must be positive and at most {MaxLimit.TotalDays:0} days, or Timeout.InfiniteTimeSpan");
            }
            _responseTimeout = value;
        }
    }

    /// <summary>
    /// True once a call did not complete (it timed out, was cancelled after taking its turn on the connection, or the
    /// connection failed) or the client was disposed. A call cancelled while still waiting for its turn sends nothing
    /// and leaves the connection open. The answer to an abandoned request may still arrive and would be read as the next call's answer, so
    /// the connection is closed instead and every later call throws <see cref="IOException"/>: connect again and
    /// repeat the request (a submit with the same id is answered with the original receipt). A connection the service
    /// closed as idle to serve another agent does not count: the next call connects again by itself and sends its request
    /// there, which is safe for every op since the service read none of it; as often as it takes within the call's time
    /// limit, after which it throws <see cref="RequestNotCarriedOutException"/>.
    /// </summary>
    public bool IsClosed => _closedBecause is not null;

    public Response Ping() => Send(new PingRequest(), ProtocolJson.RequestContext.PingRequest);

    public Response Submit(DraftSubmission draft) =>
        Send(new SubmitRequest { Draft = draft }, ProtocolJson.RequestContext.SubmitRequest);

    public Response Get(string id) => Send(new GetRequest { Id = id }, ProtocolJson.RequestContext.GetRequest);

    /// <summary>Blocks until the draft is decided (or its flow has ended, with <see cref="WaitUntil.Final"/>) or the timeout.</summary>
    public Response Wait(string id, int timeoutMs, string? until = null) =>
        Send(new WaitRequest { Id = id, TimeoutMs = timeoutMs, Until = until }, ProtocolJson.RequestContext.WaitRequest, timeoutMs);

    /// <summary>The blocking form of <see cref="CancelAsync"/>.</summary>
    public Response Cancel(string id, string? reason = null) =>
        Send(new CancelRequest { Id = id, Reason = reason }, ProtocolJson.RequestContext.CancelRequest);

    /// <summary>The blocking form of <see cref="SendRawAsync"/>.</summary>
    public string? SendRaw(ReadOnlyMemory<byte> line) => SendRaw(line, serviceWaitMs: 0);

    private string? SendRaw(ReadOnlyMemory<byte> line, int serviceWaitMs)
    {
        _gate.Wait();
        try
        {
            ThrowIfClosed();
            var limit = Limit(serviceWaitMs);
            using var call = new Call(this, limit);
            var request = Terminated(line);
            for (var resends = 0; ; resends++)
            {
                // Why this attempt was not carried out; null once it was answered.
                string? unserved = null;
                string? responseLine = null;
                try
                {
                    try
                    {
                        _stream.Write(request.Span);
                        _stream.Flush();
                    }
                    catch (IOException ex) when (!call.Expired)
                    {
                        unserved = "its write failed: " + ex.Message;
                        responseLine = AnswerBeforeTheClose(call);
                    }
                    if (unserved is null || responseLine is not null)
                    {
                        responseLine ??= _reader.ReadLine();
                        unserved = IsClosedUnserved(responseLine) ? ClosedAsIdle : null;
                    }
                }
                catch (Exception ex) when (ex is IOException or ObjectDisposedException && call.Expired)
                {
                    throw TimedOut(limit, ex);
                }
                catch (IOException ex)
                {
                    Close("the connection failed: " + ex.Message);
                    throw;
                }
                if (unserved is null)
                {
                    return Finish(call, limit, responseLine);
                }
                Reconnect(call, unserved, resends);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private Response Send<T>(T request, JsonTypeInfo<T> typeInfo, int serviceWaitMs = 0)
    {
        var responseLine = SendRaw(JsonSerializer.SerializeToUtf8Bytes(request, typeInfo), serviceWaitMs)
            ?? throw new IOException("The service closed the connection without answering.");
        return ParseResponse(responseLine);
    }

    public Task<Response> PingAsync(CancellationToken cancellationToken = default) =>
        SendAsync(new PingRequest(), ProtocolJson.RequestContext.PingRequest, cancellationToken);

    public Task<Response> SubmitAsync(DraftSubmission draft, CancellationToken cancellationToken = default) =>
        SendAsync(new SubmitRequest { Draft = draft }, ProtocolJson.RequestContext.SubmitRequest, cancellationToken);

    public Task<Response> GetAsync(string id, CancellationToken cancellationToken = default) =>
        SendAsync(new GetRequest { Id = id }, ProtocolJson.RequestContext.GetRequest, cancellationToken);

    public Task<Response> WaitAsync(string id, int timeoutMs, CancellationToken cancellationToken = default) =>
        SendAsync(new WaitRequest { Id = id, TimeoutMs = timeoutMs }, ProtocolJson.RequestContext.WaitRequest, cancellationToken, timeoutMs);

    /// <summary>Waits until the draft is decided or, with <see cref="WaitUntil.Final"/>, until its flow has ended.</summary>
    public Task<Response> WaitAsync(string id, int timeoutMs, string until, CancellationToken cancellationToken = default) =>
        SendAsync(new WaitRequest { Id = id, TimeoutMs = timeoutMs, Until = until }, ProtocolJson.RequestContext.WaitRequest, cancellationToken, timeoutMs);

    public Task<Response> ListAsync(string? state = null, int? limit = null, string? kind = null, CancellationToken cancellationToken = default) =>
        SendAsync(new ListRequest { State = state, Limit = limit, Kind = kind }, ProtocolJson.RequestContext.ListRequest, cancellationToken);

    /// <summary>
    /// A list with every option, <see cref="ListRequest.Before"/> included: pass the previous answer's
    /// <see cref="Response.NextBefore"/> as it to read the next (older) page. A name of its own, not a ListAsync
    /// overload, so that an existing <c>ListAsync(null)</c> still compiles.
    /// </summary>
    public Task<Response> ListPageAsync(ListRequest request, CancellationToken cancellationToken = default) =>
        SendAsync(request, ProtocolJson.RequestContext.ListRequest, cancellationToken);

    public Task<Response> ReportAsync(string name, CancellationToken cancellationToken = default) =>
        SendAsync(new ReportRequest { Name = name }, ProtocolJson.RequestContext.ReportRequest, cancellationToken);

    public Task<Response> ClaimAsync(string kind, int? max = null, int? leaseSeconds = null, CancellationToken cancellationToken = default) =>
        SendAsync(new ClaimRequest { Kind = kind, Max = max, LeaseSeconds = leaseSeconds }, ProtocolJson.RequestContext.ClaimRequest, cancellationToken);

    public Task<Response> CompleteAsync(string id, string lease, string? result, CancellationToken cancellationToken = default) =>
        SendAsync(new CompleteRequest { Id = id, Lease = lease, Result = result }, ProtocolJson.RequestContext.CompleteRequest, cancellationToken);

    public Task<Response> FailAsync(string id, string lease, string error, bool retryable, CancellationToken cancellationToken = default) =>
        SendAsync(new FailRequest { Id = id, Lease = lease, Error = error, Retryable = retryable }, ProtocolJson.RequestContext.FailRequest, cancellationToken);

    /// <summary>
    /// A <c>fail</c> with every option, <see cref="FailRequest.MayHaveTakenEffect"/> included: set it when the attempt may
    /// have posted after all (the target did not answer in time).
    /// </summary>
    public Task<Response> FailAsync(FailRequest request, CancellationToken cancellationToken = default) =>
        SendAsync(request, ProtocolJson.RequestContext.FailRequest, cancellationToken);

    /// <summary>
    /// Withdraws a draft (op <c>cancel</c>): answered with the draft, now <c>cancelled</c>, or an error: <c>conflict</c> once
    /// it is past withdrawing (executing, executed, rejected, expired, blocked, unknown, or discarded by the approver),
    /// <c>not_found</c>. A repeat after a lost answer gets the same answer; the first <paramref name="reason"/> stays.
    /// </summary>
    public Task<Response> CancelAsync(string id, string? reason = null, CancellationToken cancellationToken = default) =>
        SendAsync(new CancelRequest { Id = id, Reason = reason }, ProtocolJson.RequestContext.CancelRequest, cancellationToken);

    /// <summary>Sends one request line as given and returns the response line, unparsed. For tools and tests.</summary>
    public Task<string?> SendRawAsync(ReadOnlyMemory<byte> line, CancellationToken cancellationToken = default) =>
        SendRawAsync(line, serviceWaitMs: 0, cancellationToken);

    private async Task<string?> SendRawAsync(ReadOnlyMemory<byte> line, int serviceWaitMs, CancellationToken cancellationToken)
    {
        // Cancelled while waiting for the gate: nothing was sent, the connection stays usable.
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfClosed();
            var limit = Limit(serviceWaitMs);
            using var call = new Call(this, limit);
            var request = Terminated(line);
            for (var resends = 0; ; resends++)
            {
                string? unserved = null;
                string? responseLine = null;
                try
                {
                    try
                    {
                        await _stream.WriteAsync(request, cancellationToken).ConfigureAwait(false);
                        await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                    }
                    catch (IOException ex) when (!call.Expired)
                    {
                        unserved = "its write failed: " + ex.Message;
                        responseLine = await AnswerBeforeTheCloseAsync(call, cancellationToken).ConfigureAwait(false);
                    }
                    if (unserved is null || responseLine is not null)
                    {
                        responseLine ??= await _reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
                        unserved = IsClosedUnserved(responseLine) ? ClosedAsIdle : null;
                    }
                }
                catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException && call.Expired)
                {
                    throw TimedOut(limit, ex);
                }
                catch (OperationCanceledException)
                {
                    Close("a call was cancelled before its answer arrived");
                    throw;
                }
                catch (IOException ex)
                {
                    Close("the connection failed: " + ex.Message);
                    throw;
                }
                if (unserved is null)
                {
                    return Finish(call, limit, responseLine);
                }
                await ReconnectAsync(call, unserved, resends, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// A write fails once the service has closed the connection, and what it wrote before closing is still there to read:
    /// the <c>closed</c> line of an idle close, or, for a request too long to read to its end, its <c>too_large</c>
    /// answer, which is this request's answer and must not be lost to a resend that would only be refused again. Null
    /// when nothing came before the close. The peer is gone, so the read does not wait; the call's time limit bounds it anyway.
    /// </summary>
    private string? AnswerBeforeTheClose(Call call)
    {
        try
        {
            return _reader.ReadLine();
        }
        catch (IOException) when (!call.Expired)
        {
            return null;
        }
    }

    private async Task<string?> AnswerBeforeTheCloseAsync(Call call, CancellationToken cancellationToken)
    {
        try
        {
            return await _reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException) when (!call.Expired)
        {
            return null;
        }
    }

    /// <summary>
    /// The line the service writes before it closes an idle connection (<see cref="Response.Closed"/>): the request just
    /// sent was not carried out. Looked at only when the line starts and ends as that one does, not parsed for every answer.
    /// </summary>
    private static bool IsClosedUnserved(string? responseLine)
    {
        if (responseLine is null
            || !responseLine.StartsWith("{\"ok\":false,", StringComparison.Ordinal)
            || !responseLine.EndsWith("\"closed\":true}", StringComparison.Ordinal))
        {
            return false;
        }
        try
        {
            return ParseResponse(responseLine) is { Closed: true, Error.Code: ErrorCodes.Unavailable };
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private const string ClosedAsIdle = "it closed the connection as idle to serve another agent";

    /// <summary>
    /// None before the first resend; then a short pause, growing, so that a service that keeps closing new connections
    /// unread is not asked again in a tight loop. Never past the call's time limit.
    /// </summary>
    private static TimeSpan? ResendDelay(Call call, int resends)
    {
        if (resends == 0)
        {
            return null;
        }
        var delay = TimeSpan.FromMilliseconds(Math.Min(1000, 50 << Math.Min(resends - 1, 5)));
        return call.TimeLeft is { } left && left < delay ? (left > TimeSpan.Zero ? left : null) : delay;
    }

    /// <summary>
    /// The service closed the connection before the request reached it (its write failed: a socket whose peer is gone
    /// takes no bytes) or answered that it had closed it unserved: either way nothing of the request was carried out, so
    /// it goes again, whatever its op, on a new connection to the same pipe. Connecting again is bounded by the connect
    /// timeout and by the time left of the call, whichever is shorter.
    /// </summary>
    private void Reconnect(Call call, string unserved, int resends)
    {
        if (ResendDelay(call, resends) is { } delay)
        {
            Thread.Sleep(delay);
        }
        var timeout = ReconnectTimeout(call, unserved);
        NamedPipeClientStream fresh;
        try
        {
            fresh = Open(_pipeName, _pipeOptions, timeout);
        }
        catch (Exception ex) when (ex is IOException or TimeoutException or UnauthorizedAccessException)
        {
            throw CannotReconnect(call, unserved, timeout, ex);
        }
        Replace(fresh);
        ThrowIfExpired(call, unserved);
    }

    private async Task ReconnectAsync(Call call, string unserved, int resends, CancellationToken cancellationToken)
    {
        NamedPipeClientStream fresh;
        TimeSpan timeout = default;
        try
        {
            if (ResendDelay(call, resends) is { } delay)
            {
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            }
            timeout = ReconnectTimeout(call, unserved);
            fresh = await OpenAsync(_pipeName, _pipeOptions, timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Close("a call was cancelled before its answer arrived");
            throw;
        }
        catch (Exception ex) when (ex is IOException and not RequestNotCarriedOutException or TimeoutException or UnauthorizedAccessException)
        {
            throw CannotReconnect(call, unserved, timeout, ex);
        }
        Replace(fresh);
        ThrowIfExpired(call, unserved);
    }

    private TimeSpan ReconnectTimeout(Call call, string unserved)
    {
        ThrowIfExpired(call, unserved);
        if (Volatile.Read(ref _closedBecause) is { } reason)
        {
            // Disposed meanwhile by another thread.
            throw GiveUp(unserved, $"this client was closed meanwhile ({reason})", null);
        }
        if (call.TimeLeft is not { } left)
        {
            return _connectTimeout;
        }
        if (left <= TimeSpan.Zero)
        {
            throw GiveUp(unserved, $"the call's time limit of {call.Limit.TotalSeconds:0.###} s ran out", null);
        }
        return _connectTimeout == Timeout.InfiniteTimeSpan || left < _connectTimeout ? left : _connectTimeout;
    }

    private void ThrowIfExpired(Call call, string unserved)
    {
        if (call.Expired)
        {
            throw GiveUp(unserved, $"the call's time limit of {call.Limit.TotalSeconds:0.###} s ran out", null);
        }
    }

    private RequestNotCarriedOutException CannotReconnect(Call call, string unserved, TimeSpan timeout, Exception ex) =>
        (ex is TimeoutException or OperationCanceledException) && timeout != _connectTimeout
            ? GiveUp(unserved, $"connecting again did not succeed within the {timeout.TotalSeconds:0.###} s left of the call's time limit of {call.Limit.TotalSeconds:0.###} s", ex)
            : GiveUp(unserved, "connecting again failed: " + ex.Message, ex);

    /// <summary>Closes the client (as after any call that did not complete) and says why the request was not carried out.</summary>
    private RequestNotCarriedOutException GiveUp(string unserved, string what, Exception? inner)
    {
        Close("a request could not be sent again: " + what);
        return new RequestNotCarriedOutException(
            $"The service closed the connection before this request reached it ({unserved}), and {what}. The request was not carried out: connect again and send it again.", inner);
    }

    private void Replace(NamedPipeClientStream fresh)
    {
        var oldReader = _reader;
        _reader = ReaderOf(fresh);
        // Full fences both here and in Close: either this sees the client closed meanwhile (a time limit, a Dispose), or
        // that close disposes the new stream.
        var old = Interlocked.Exchange(ref _stream, fresh);
        oldReader.Dispose();
        old.Dispose();
        if (Volatile.Read(ref _closedBecause) is not null)
        {
            fresh.Dispose();
        }
    }

    /// <summary>The longest time a timer can be set to; a longer limit is no limit.</summary>
    private static readonly TimeSpan MaxLimit = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    private TimeSpan Limit(int serviceWaitMs)
    {
        if (_responseTimeout == Timeout.InfiniteTimeSpan)
        {
            return Timeout.InfiniteTimeSpan;
        }
        var limit = _responseTimeout + TimeSpan.FromMilliseconds(Math.Max(0, serviceWaitMs));
        return limit > MaxLimit ? Timeout.InfiniteTimeSpan : limit;
    }

    private string? Finish(Call call, TimeSpan limit, string? responseLine)
    {
        if (!call.Complete())
        {
            // The limit ran out: at the last moment (this answer is still the right one), or before anything came (the
            // read saw the connection end). Closed here too, before the gate is let go: the timer's own close may not
            // have run yet, and must not land on the next call.
            Close("a call got no answer within its time limit");
            return responseLine ?? throw TimedOut(limit, null);
        }
        if (responseLine is null)
        {
            Close("the service closed the connection");
        }
        return responseLine;
    }

    private static TimeoutException TimedOut(TimeSpan limit, Exception? inner) => new(
        $"No answer from the service within {limit.TotalSeconds:0.###} s; the connection is closed. The request may have been carried out: connect again and repeat it (a submit with the same id returns the original receipt).", inner);

    private void ThrowIfClosed()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_closedBecause is { } reason)
        {
            throw new IOException($"This connection is closed ({reason}); connect again.");
        }
    }

    /// <summary>Closes the connection for good; a read blocked on it returns or throws at once.</summary>
    private void Close(string reason)
    {
        Interlocked.CompareExchange(ref _closedBecause, reason, null);
        Volatile.Read(ref _stream).Dispose();
    }

    /// <summary>One write for the line and its end: the service reads the request in one go, not in two wake-ups.</summary>
    private static ReadOnlyMemory<byte> Terminated(ReadOnlyMemory<byte> line)
    {
        if (line.Length > 0 && line.Span[^1] == (byte)'\n')
        {
            return line;
        }
        var terminated = new byte[line.Length + 1];
        line.Span.CopyTo(terminated);
        terminated[^1] = (byte)'\n';
        return terminated;
    }

    private async Task<Response> SendAsync<T>(T request, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken, int serviceWaitMs = 0)
    {
        var line = JsonSerializer.SerializeToUtf8Bytes(request, typeInfo);
        var responseLine = await SendRawAsync(line, serviceWaitMs, cancellationToken).ConfigureAwait(false)
            ?? throw new IOException("The service closed the connection without answering.");
        return ParseResponse(responseLine);
    }

    /// <summary>Reads one response line, tolerating fields added by newer services.</summary>
    public static Response ParseResponse(string line) =>
        JsonSerializer.Deserialize(line, LenientContext.Response)
        ?? throw new JsonException("The service answered with null.");

    private static readonly ProtocolJsonContext LenientContext = new(ProtocolJson.Lenient);

    // The gate is not disposed: a call still in flight on another thread releases it after the stream is gone, and
    // must fail with the stream's IOException, not an ObjectDisposedException from the gate (it holds no handle).
    public void Dispose()
    {
        _disposed = true;
        Interlocked.CompareExchange(ref _closedBecause, "the client was disposed", null);
        _reader.Dispose();
        Volatile.Read(ref _stream).Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        Interlocked.CompareExchange(ref _closedBecause, "the client was disposed", null);
        _reader.Dispose();
        await Volatile.Read(ref _stream).DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// One call's time limit: when it runs out first, the connection is closed, which ends a read blocked on it.
    /// Whichever of the limit and the answer comes first wins; the other then changes nothing.
    /// </summary>
    private sealed class Call : IDisposable
    {
        private const int Running = 0, Completed = 1, TimedOut = 2;
        private readonly PipeClient _client;
        private readonly Timer? _timer;
        private readonly long _started = System.Diagnostics.Stopwatch.GetTimestamp();
        private int _state;

        public Call(PipeClient client, TimeSpan limit)
        {
            _client = client;
            Limit = limit;
            if (limit != Timeout.InfiniteTimeSpan)
            {
                _timer = new Timer(static call => ((Call)call!).Expire(), this, limit, Timeout.InfiniteTimeSpan);
            }
        }

        public bool Expired => Volatile.Read(ref _state) == TimedOut;

        public TimeSpan Limit { get; }

        /// <summary>What is left of the limit (negative once it has run out); null with no limit.</summary>
        public TimeSpan? TimeLeft => Limit == Timeout.InfiniteTimeSpan ? null : Limit - System.Diagnostics.Stopwatch.GetElapsedTime(_started);

        /// <summary>False when the limit had already run out (and closed the connection).</summary>
        public bool Complete() => Interlocked.CompareExchange(ref _state, Completed, Running) == Running;

        private void Expire()
        {
            if (Interlocked.CompareExchange(ref _state, TimedOut, Running) == Running)
            {
                _client.Close("a call got no answer within its time limit");
            }
        }

        public void Dispose() => _timer?.Dispose();
    }
}
