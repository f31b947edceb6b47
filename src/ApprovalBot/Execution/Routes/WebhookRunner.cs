using System.Net;
using System.Net.Http.Headers;

namespace ApprovalBot.Execution.Routes;

/// <summary>
/// Runs a webhook route: POST the draft JSON with an <c>Idempotency-Key</c> header. 2xx is executed;
/// 408, 429, 503 (each says the request was not processed) and failures to connect are retryable; any other 4xx is a
/// permanent failure. Any other 5xx (a proxy that forwarded the POST, a sink that threw after posting), no answer in
/// time, or a connection lost after the request went out, may have taken effect: retried only on a route that
/// dedupes, otherwise the draft becomes <c>unknown</c> for a human to check. Redirects are not followed: .NET
/// would repeat the POST as a GET without its body, and the GET's 2xx would count as executed though nothing
/// was posted.
/// </summary>
internal sealed class WebhookRunner(TimeProvider time) : IDisposable
{
    private readonly HttpClient _http = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), AllowAutoRedirect = false })
    {
        // Each attempt has its own route timeout below.
        Timeout = System.Threading.Timeout.InfiniteTimeSpan,
    };

    public async Task<AttemptOutcome> RunAsync(ExecutorRouteOptions route, ExecutionRequest request, CancellationToken cancellationToken)
    {
        // Nothing has gone out yet: a draft that cannot be written is a certain failure, not a request that may have reached the sink.
        if (!request.TryToJson(out var payload, out var problem))
        {
            return AttemptOutcome.InputNotWritten(problem);
        }
        using var timeout = new CancellationTokenSource(route.Timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
        var sent = new SentBody(payload);
        using var message = new HttpRequestMessage(HttpMethod.Post, route.Url)
        {
            Content = sent,
        };
        message.Headers.Add("Idempotency-Key", request.IdempotencyKey);
        message.Headers.Add("X-Approval-Id", request.Draft.Id);
        try
        {
            using var response = await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, linked.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            // The status is the sink's answer; a body cut short or late after it changes nothing about that answer.
            var body = await ReadBoundedOrNullAsync(response, linked.Token).ConfigureAwait(false);
            if (status is >= 200 and < 300)
            {
                return AttemptOutcome.Success(AttemptOutcome.FirstLine(body) ?? $"HTTP {status}");
            }
            if (status is >= 300 and < 400)
            {
                // The sink took the request and answered elsewhere (a login page, http -> https, post/redirect/get):
                // whether it acted is not known, and the route's Url needs a human either way.
                var location = response.Headers.Location is { } to ? " -> " + to : "";
                return AttemptOutcome.Failure($"HTTP {status} {response.ReasonPhrase}{location}: the sink redirected the POST "
                    + "(redirects are not followed); point the route's Url at the final address", retryable: false) with { MayHaveTakenEffect = true };
            }
            var detail = AttemptOutcome.FirstLine(body);
            var error = $"HTTP {status} {response.ReasonPhrase}" + (detail is null ? "" : ": " + detail);
            if (status >= 500 && response.StatusCode != HttpStatusCode.ServiceUnavailable)
            {
                // A proxy that forwarded the POST and lost the answer (502, 504), or a sink that threw after posting (500):
                // the request may have been acted on, as with no answer in time. Only 503 says it was not processed.
                return AttemptOutcome.Interrupted(error);
            }
            var retryable = response.StatusCode is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable;
            return AttemptOutcome.Failure(error, retryable);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && !sent.Started)
        {
            // Still connecting (a dead host, a full accept backlog): the sink never saw the request.
            return AttemptOutcome.Failure($"could not reach the sink within {route.TimeoutSeconds}s", retryable: true);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The sink may be posting right now: on a route that does not dedupe this must not be sent again blindly.
            return AttemptOutcome.Interrupted($"no response within {route.TimeoutSeconds}s");
        }
        catch (HttpRequestException ex) when (!sent.Started)
        {
            // No request went out (connection refused, DNS, TLS, proxy): retrying cannot post twice.
            return AttemptOutcome.Failure("network error: " + ex.Message, retryable: true);
        }
        catch (HttpRequestException ex)
        {
            // Connected, then reset or cut off: the request may have been received and acted on.
            return AttemptOutcome.Interrupted("network error after the request may have reached the sink: " + ex.Message);
        }
    }

    /// <summary>
    /// The body's first 8 KiB, or null if it broke off or did not come in time, or the service began to stop: the
    /// status is in, so the outcome is known either way and must be recorded as such.
    /// </summary>
    private static async Task<string?> ReadBoundedOrNullAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            return await ReadBoundedAsync(response, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException or OperationCanceledException)
        {
            return null;
        }
    }

    private static async Task<string> ReadBoundedAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var buffer = new byte[8 * 1024];
            var total = 0;
            int read;
            while (total < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false)) > 0)
            {
                total += read;
            }
            return System.Text.Encoding.UTF8.GetString(buffer, 0, total);
        }
    }

    public void Dispose() => _http.Dispose();

    /// <summary>
    /// The request body, noting when HttpClient starts sending it: only then is there a connection and a request the
    /// sink may act on. Before that, a timeout or a network error cannot have taken effect.
    /// </summary>
    private sealed class SentBody : ByteArrayContent
    {
        public SentBody(byte[] json)
            : base(json)
        {
            Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        }

        public bool Started { get; private set; }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            Started = true;
            return base.SerializeToStreamAsync(stream, context);
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            Started = true;
            return base.SerializeToStreamAsync(stream, context, cancellationToken);
        }

        protected override void SerializeToStream(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            Started = true;
            base.SerializeToStream(stream, context, cancellationToken);
        }
    }
}
