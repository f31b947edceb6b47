using System.Text.Json;
using System.Text.Unicode;
using ApprovalBot.Client;
using ApprovalBot.Drafts;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Pipe;

/// <summary>Turns one request line into one response: the boundary checks shared by every op, then the op itself.</summary>
internal sealed partial class PipeDispatcher
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64, AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow };
    private readonly Dictionary<string, IPipeOperation> _operations;
    private readonly ILogger<PipeDispatcher> _logger;

    public PipeDispatcher(IEnumerable<IPipeOperation> operations, ILogger<PipeDispatcher> logger)
    {
        _operations = operations.ToDictionary(o => o.Name, StringComparer.Ordinal);
        _logger = logger;
    }

    /// <summary>Always answers: whatever a line contains, the agent gets one response and the connection stays usable.</summary>
    public async Task<Response> DispatchAsync(ReadOnlyMemory<byte> line, CancellationToken cancellationToken)
    {
        try
        {
            return await DispatchCoreAsync(line, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogInternal(ex, "?");
            return Response.Failure(ErrorCodes.Internal, "internal error; see the service log");
        }
    }

    private async Task<Response> DispatchCoreAsync(ReadOnlyMemory<byte> line, CancellationToken cancellationToken)
    {
        if (line.Span.IndexOfAnyExcept(" \t\r"u8) < 0)
        {
            // Answered like any other line: one skipped unanswered left an agent that sent it waiting for its answer.
            return Response.Failure(ErrorCodes.BadRequest, EmptyLine);
        }
        if (!Utf8.IsValid(line.Span))
        {
            return Response.Failure(ErrorCodes.BadRequest, "request is not valid UTF-8");
        }
        if (line.Span.StartsWith(Utf8Bom))
        {
            // Written by a writer set to emit one (.NET's Encoding.UTF8, "UTF-8 with BOM" in an editor): refused, as JSON
            // text on the wire takes none (RFC 8259), but named, where the parser only says 0xEF cannot start a value.
            return Response.Failure(ErrorCodes.BadRequest, ByteOrderMark);
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line, DocumentOptions);
        }
        catch (JsonException ex)
        {
            return Response.Failure(ErrorCodes.BadRequest, "request is not JSON: " + FirstSentence(ex.Message));
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return Response.Failure(ErrorCodes.BadRequest, "request must be a JSON object");
            }
            JsonElement op;
            try
            {
                if (!root.TryGetProperty("op", out op))
                {
                    return Response.Failure(ErrorCodes.Invalid, "required field 'op' is missing", "op");
                }
            }
            catch (InvalidOperationException)
            {
                // The lookup decodes the request's own names it passes, and a name that is an unpaired surrogate escape
                // decodes to no text: worded as the op's reader words it, which meets such a name before "op".
                return Response.Failure(ErrorCodes.Invalid, StrictRequest.NameNotValidUnicode, "$");
            }
            if (NamedTwice(root, "op"))
            {
                // The lookup takes one of them, and the op it names could refuse another field before the repeat (a
                // ping told a get's id as unknown): told here, as the ops' readers tell any other field sent twice.
                return Response.Failure(ErrorCodes.Invalid, "duplicate field", "op");
            }
            if (op.ValueKind != JsonValueKind.String)
            {
                return Response.Failure(ErrorCodes.Invalid, "wrong type: expected a string", "op");
            }
            string name;
            try
            {
                name = op.GetString()!;
            }
            catch (InvalidOperationException)
            {
                return Response.Failure(ErrorCodes.Invalid, StrictRequest.NotValidUnicode, "op");
            }
            if (!_operations.TryGetValue(name, out var operation))
            {
                return Response.Failure(ErrorCodes.UnknownOp, $"unknown op '{Truncate(name)}'; known: {string.Join(", ", _operations.Keys.Order(StringComparer.Ordinal))}", "op");
            }
            try
            {
                return await operation.HandleAsync(root, cancellationToken).ConfigureAwait(false);
            }
            catch (ProtocolException ex)
            {
                return Response.Failure(ex.Code, ex.Message, ex.Field);
            }
            catch (StoreUnavailableException ex)
            {
                LogUnavailable(ex, name);
                return Response.Failure(ErrorCodes.Unavailable, "the store cannot commit right now; nothing was stored, retry later");
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Only a request that had changed nothing yet gets here: a write, once queued, is answered by its commit.
                return Response.Failure(ErrorCodes.Unavailable, "the service is shutting down; nothing was changed by this request, ask again once it is back");
            }
            catch (Exception ex)
            {
                LogInternal(ex, name);
                return Response.Failure(ErrorCodes.Internal, "internal error; see the service log");
            }
        }
    }

    private const string EmptyLine = "request line is empty: send one JSON object per line";

    private const string ByteOrderMark = "request line starts with a UTF-8 byte order mark (EF BB BF): send the JSON object without it (write UTF-8 without a BOM)";

    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    private static bool NamedTwice(JsonElement root, string name)
    {
        var seen = 0;
        foreach (var property in root.EnumerateObject())
        {
            try
            {
                if (property.NameEquals(name) && ++seen > 1)
                {
                    return true;
                }
            }
            catch (InvalidOperationException)
            {
                // A name that is no valid Unicode is no "op"; the op's reader words it.
            }
        }
        return false;
    }

    private static string Truncate(string value) => value.Length <= 64 ? value : value[..64] + "…";

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Op {Op} answered unavailable: the store cannot commit")]
    private partial void LogUnavailable(Exception ex, string op);

    [LoggerMessage(Level = LogLevel.Error, Message = "Op {Op} failed unexpectedly")]
    private partial void LogInternal(Exception ex, string op);
}
