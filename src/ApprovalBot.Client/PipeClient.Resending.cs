using System.IO.Pipes;

namespace ApprovalBot.Client;

// A request the service provably did not read, sent again on a new connection within the call's time limit.
public sealed partial class PipeClient
{
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
}
