using System.IO.Pipes;
using System.Text;
using System.Text.Json;

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
public sealed partial class PipeClient : IAsyncDisposable, IDisposable
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

    /// <summary>The longest time a timer can be set to; a longer limit is no limit.</summary>
    private static readonly TimeSpan MaxLimit = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

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
}
