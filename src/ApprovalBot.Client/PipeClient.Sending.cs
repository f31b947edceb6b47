using System.Text.Json;

namespace ApprovalBot.Client;

// One request line out and its answer line back, within the call's time limit; a request the service closed the connection
// on before reading it goes again (PipeClient.Resending.cs).
public sealed partial class PipeClient
{
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
                string? writeFailed = null;
                string? responseLine;
                try
                {
                    try
                    {
                        _stream.Write(request.Span);
                        _stream.Flush();
                    }
                    catch (IOException ex) when (!call.Expired)
                    {
                        writeFailed = ex.Message;
                    }
                    responseLine = ReadAnswer(call, writeFailed);
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
                if (Unserved(writeFailed, responseLine) is not { } unserved)
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
                string? writeFailed = null;
                string? responseLine;
                try
                {
                    try
                    {
                        await _stream.WriteAsync(request, cancellationToken).ConfigureAwait(false);
                        await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                    }
                    catch (IOException ex) when (!call.Expired)
                    {
                        writeFailed = ex.Message;
                    }
                    responseLine = await ReadAnswerAsync(call, writeFailed, cancellationToken).ConfigureAwait(false);
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
                if (Unserved(writeFailed, responseLine) is not { } unserved)
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
    /// The answer line, or null at the end of input. After a failed write (<paramref name="writeFailed"/>) the service has
    /// closed the connection, and what it wrote before closing is still there to read: the <c>closed</c> line of an idle
    /// close, or, for a request too long to read to its end, its <c>too_large</c> answer, which is this request's answer and
    /// must not be lost to a resend that would only be refused again; a failed read then means nothing came before the
    /// close (null), not a failed connection. The peer is gone, so that read does not wait; the call's time limit bounds it anyway.
    /// </summary>
    private string? ReadAnswer(Call call, string? writeFailed)
    {
        try
        {
            return _reader.ReadLine();
        }
        catch (IOException) when (writeFailed is not null && !call.Expired)
        {
            return null;
        }
    }

    /// <summary>The asynchronous <see cref="ReadAnswer"/>.</summary>
    private async ValueTask<string?> ReadAnswerAsync(Call call, string? writeFailed, CancellationToken cancellationToken)
    {
        try
        {
            return await _reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException) when (writeFailed is not null && !call.Expired)
        {
            return null;
        }
    }

    /// <summary>
    /// Why an attempt was not carried out, so that it goes again on a new connection; null when <paramref name="responseLine"/>
    /// is its answer (or the service ended the connection without one). Not carried out: answered with the line the service
    /// writes before it closes an idle connection, or a write that failed with nothing before the close to read.
    /// </summary>
    private static string? Unserved(string? writeFailed, string? responseLine) =>
        IsClosedUnserved(responseLine) ? ClosedAsIdle
        : writeFailed is not null && responseLine is null ? "its write failed: " + writeFailed
        : null;

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
        else if (EndsTheConnection(responseLine))
        {
            // The service closes after these answers and drops whatever comes behind the refused line until then: the
            // next call is refused here, before it is sent, rather than dropped there and reported as maybe carried out.
            Close("the service closes it after a too_large or line_timeout answer");
        }
        return responseLine;
    }

    private static bool EndsTheConnection(string responseLine) =>
        responseLine.StartsWith("{\"ok\":false", StringComparison.Ordinal) &&
        (responseLine.Contains($"\"code\":\"{ErrorCodes.TooLarge}\"", StringComparison.Ordinal) ||
         responseLine.Contains($"\"code\":\"{ErrorCodes.LineTimeout}\"", StringComparison.Ordinal));

    private static TimeoutException TimedOut(TimeSpan limit, Exception? inner) => new(
        $"No answer from the service within {limit.TotalSeconds:0.###} s; the connection is closed. The request may have been carried out: connect again and repeat it (a submit with the same id returns the original receipt).", inner);

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
}
