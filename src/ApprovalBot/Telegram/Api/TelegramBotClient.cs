using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Telegram.Api;

/// <summary>
/// A small typed Bot API client, its methods named like Telegram.Bot's. Each call resends on 429 after
/// <c>retry_after</c> and on 5xx or network failures with backoff; other errors surface as
/// <see cref="ApiRequestException"/>. A call whose outcome is unknown (<see cref="ApiRequestException.OutcomeUnknown"/>) is
/// resent when repeating it changes nothing (an edit, a delete, an answer to a tap), but never when it posts a message
/// (sendMessage, sendDocument): an answer 200 that cannot be read, no answer in time or a connection lost after the request
/// went out, or a 5xx. On real Telegram each of those mostly means the message was posted (a slow answer or a proxy's 502
/// come after the work is done), and a resend would post a copy the service never learns of, with live buttons. That is
/// thrown to the caller, which knows what a copy costs and says so once (the card outbox sends the card once more, needing
/// its message id; an escalation counts as delivered). Only a command's reply (<see cref="SendReply"/>) is resent: a second
/// copy of a reply is harmless, none at all leaves the approver without an answer. A send that failed before its request
/// went out (no connection) and a 429 are resent as always: Telegram did not see it. It owns its HttpClient (no
/// IHttpClientFactory logging), because the request URL carries the token and must never reach a log line.
/// </summary>
internal sealed partial class TelegramBotClient : IDisposable
{
    public const string SendDocumentMethod = "sendDocument";

    // A 429 is an instruction, not a failure: follow it a few more times than a plain retry.
    private const int Max429Resends = 10;

    // Set for the calls of one flow that must not wait out a 429 (see ThrowOn429).
    private static readonly AsyncLocal<bool> NoWaitOn429 = new();
    private readonly TelegramEndpoint _endpoint;
    private readonly OutgoingRateLimiter _limiter;
    private readonly TimeProvider _time;
    private readonly ILogger<TelegramBotClient> _logger;
    private readonly TelegramOptions _options;
    private readonly HttpClient _http;

    public TelegramBotClient(TelegramEndpoint endpoint, OutgoingRateLimiter limiter, IOptions<TelegramOptions> options, TimeProvider time, ILogger<TelegramBotClient> logger)
    {
        _endpoint = endpoint;
        _limiter = limiter;
        _time = time;
        _logger = logger;
        _options = options.Value;
        _http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    public async Task<User> GetMe(CancellationToken cancellationToken = default) =>
        Deserialize(await CallJsonAsync("getMe", new EmptyRequest(), TelegramJsonContext.Default.EmptyRequest, null, cancellationToken).ConfigureAwait(false),
            TelegramJsonContext.Default.User, "getMe");

    public async Task DeleteWebhook(bool dropPendingUpdates = false, CancellationToken cancellationToken = default) =>
        await CallJsonAsync("deleteWebhook", new DeleteWebhookRequest { DropPendingUpdates = dropPendingUpdates },
            TelegramJsonContext.Default.DeleteWebhookRequest, null, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// One long poll. Updates come back raw, so one malformed update can be logged and skipped by the caller
    /// instead of failing the whole batch. Not retried here: the poller owns its backoff.
    /// </summary>
    public async Task<IReadOnlyList<JsonElement>> GetUpdates(long? offset, int timeoutSeconds, IReadOnlyList<string>? allowedUpdates, CancellationToken cancellationToken = default)
    {
        var result = await CallAsync("getUpdates",
            () => Json(new GetUpdatesRequest { Offset = offset, Timeout = timeoutSeconds, AllowedUpdates = allowedUpdates }, TelegramJsonContext.Default.GetUpdatesRequest),
            rate: null, TimeSpan.FromSeconds(timeoutSeconds + _options.HttpTimeoutSeconds), maxRetries: 0, postsMessage: false, cancellationToken).ConfigureAwait(false);
        return result.ValueKind == JsonValueKind.Array
            ? [.. result.EnumerateArray().Select(e => e.Clone())]
            : throw new ApiRequestException("getUpdates", 0, "the result is not an array");
    }

    public Task<Message> SendMessage(SendMessageRequest request, CancellationToken cancellationToken = default) =>
        PostAsync("sendMessage", () => Json(request, TelegramJsonContext.Default.SendMessageRequest), request.ChatId, unsureIsUnknown: true, cancellationToken);

    /// <summary>
    /// A reply to a command: resent after a timeout, a connection lost or a 5xx like an edit, since a second copy of a reply
    /// is harmless and no reply at all leaves the approver guessing. Never for a card or an escalation (<see cref="SendMessage"/>).
    /// </summary>
    public Task<Message> SendReply(SendMessageRequest request, CancellationToken cancellationToken = default) =>
        PostAsync("sendMessage", () => Json(request, TelegramJsonContext.Default.SendMessageRequest), request.ChatId, unsureIsUnknown: false, cancellationToken);

    /// <summary>
    /// A message sent only if the outgoing limits have room for it now (<see cref="OutgoingRateLimiter.TryAcquireSpare"/>), in
    /// one attempt: no wait for a slot, no resend after a 429 or a failure (thrown). Null when there was no room: nothing sent.
    /// For replies nobody waits on, which must not hold up their sender.
    /// </summary>
    public async Task<Message?> SendMessageIfFree(SendMessageRequest request, CancellationToken cancellationToken = default) =>
        _limiter.TryAcquireSpare(request.ChatId)
            ? Deserialize(await SendOnceAsync("sendMessage", Json(request, TelegramJsonContext.Default.SendMessageRequest), CallTimeout, postsMessage: true, cancellationToken).ConfigureAwait(false),
                TelegramJsonContext.Default.Message, "sendMessage")
            : null;

    public Task<Message> SendDocument(SendDocumentRequest request, CancellationToken cancellationToken = default)
    {
        HttpContent Build()
        {
            var form = new MultipartFormDataContent
            {
                { new StringContent(request.ChatId.ToString(System.Globalization.CultureInfo.InvariantCulture)), "chat_id" },
            };
            var file = new ByteArrayContent(request.Content);
            file.Headers.ContentType = new MediaTypeHeaderValue("text/plain") { CharSet = "utf-8" };
            form.Add(file, "document", request.FileName);
            if (request.Caption is not null) form.Add(new StringContent(request.Caption, Encoding.UTF8), "caption");
            if (request.ParseMode is not null) form.Add(new StringContent(request.ParseMode), "parse_mode");
            if (request.ReplyMarkup is not null)
            {
                form.Add(new StringContent(JsonSerializer.Serialize(request.ReplyMarkup, TelegramJsonContext.Default.InlineKeyboardMarkup), Encoding.UTF8), "reply_markup");
            }
            return form;
        }
        return PostAsync(SendDocumentMethod, Build, request.ChatId, unsureIsUnknown: true, cancellationToken);
    }

    /// <summary>
    /// A call that posts a new message into <paramref name="chatId"/>. With <paramref name="unsureIsUnknown"/>, a failure
    /// after the request went out is thrown as <see cref="ApiRequestException.OutcomeUnknown"/>, never resent (see the class).
    /// </summary>
    private async Task<Message> PostAsync(string method, Func<HttpContent> content, long chatId, bool unsureIsUnknown, CancellationToken cancellationToken) =>
        Deserialize(await CallAsync(method, content, RateScope.Send(chatId), CallTimeout, _options.MaxCallRetries, unsureIsUnknown, cancellationToken).ConfigureAwait(false),
            TelegramJsonContext.Default.Message, method);

    /// <summary>
    /// Deletes a message; "message to delete not found" counts as success (it is gone already: deleted by hand, or by
    /// this very call whose answer was lost before a resend).
    /// </summary>
    public async Task DeleteMessage(long chatId, long messageId, CancellationToken cancellationToken = default)
    {
        try
        {
            await CallJsonAsync("deleteMessage", new DeleteMessageRequest { ChatId = chatId, MessageId = messageId }, TelegramJsonContext.Default.DeleteMessageRequest,
                RateScope.Edit(chatId), cancellationToken).ConfigureAwait(false);
        }
        catch (ApiRequestException ex) when (ex.ErrorCode == 400 && ex.Description.Contains("message to delete not found", StringComparison.OrdinalIgnoreCase))
        {
        }
    }

    /// <summary>Edits a message's text; "message is not modified" counts as success (the edit is already there).</summary>
    public async Task EditMessageText(EditMessageTextRequest request, CancellationToken cancellationToken = default)
    {
        try
        {
            await CallJsonAsync("editMessageText", request, TelegramJsonContext.Default.EditMessageTextRequest, RateScope.Edit(request.ChatId), cancellationToken).ConfigureAwait(false);
        }
        catch (ApiRequestException ex) when (ex.IsNotModified)
        {
        }
    }

    public async Task EditMessageReplyMarkup(EditMessageReplyMarkupRequest request, CancellationToken cancellationToken = default)
    {
        try
        {
            await CallJsonAsync("editMessageReplyMarkup", request, TelegramJsonContext.Default.EditMessageReplyMarkupRequest, RateScope.Edit(request.ChatId), cancellationToken).ConfigureAwait(false);
        }
        catch (ApiRequestException ex) when (ex.IsNotModified)
        {
        }
    }

    public async Task AnswerCallbackQuery(AnswerCallbackQueryRequest request, CancellationToken cancellationToken = default) =>
        await CallJsonAsync("answerCallbackQuery", request, TelegramJsonContext.Default.AnswerCallbackQueryRequest, null, cancellationToken).ConfigureAwait(false);

    public async Task SetMyCommands(IReadOnlyList<BotCommand> commands, CancellationToken cancellationToken = default) =>
        await CallJsonAsync("setMyCommands", new SetMyCommandsRequest { Commands = commands }, TelegramJsonContext.Default.SetMyCommandsRequest, null, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Until disposed, calls made in this flow (this async context) throw a 429 at once (<see cref="ApiRequestException.RetryAfter"/>
    /// says how long to wait) instead of waiting it out: for the update poller, where a retry_after of half a minute on one
    /// card's edit would hold every tap behind it past the time its answer may be sent. The caller hands the call on.
    /// </summary>
    public static IDisposable ThrowOn429()
    {
        var before = NoWaitOn429.Value;
        NoWaitOn429.Value = true;
        return new Restore429(before);
    }

    private sealed class Restore429(bool before) : IDisposable
    {
        public void Dispose() => NoWaitOn429.Value = before;
    }

    /// <summary>The Bot API server in use (never the token), for log lines that name where a refusal came from.</summary>
    public string BaseUrl => _endpoint.BaseUrl;

    public void Dispose() => _http.Dispose();

    private TimeSpan CallTimeout => TimeSpan.FromSeconds(_options.HttpTimeoutSeconds);

    private Task<JsonElement> CallJsonAsync<T>(string method, T request, JsonTypeInfo<T> type, RateScope? rate, CancellationToken cancellationToken) =>
        CallAsync(method, () => Json(request, type), rate, CallTimeout, _options.MaxCallRetries, postsMessage: false, cancellationToken);

    private static ByteArrayContent Json<T>(T request, JsonTypeInfo<T> type)
    {
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(request, type));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        return content;
    }

    /// <summary>Which outgoing limits a call is subject to: a new message in a chat, or an edit of one already there.</summary>
    private readonly record struct RateScope(long ChatId, bool NewMessage)
    {
        public static RateScope Send(long chatId) => new(chatId, true);

        public static RateScope Edit(long chatId) => new(chatId, false);
    }

    private async Task<JsonElement> CallAsync(
        string method, Func<HttpContent> content, RateScope? rate, TimeSpan timeout, int maxRetries, bool postsMessage, CancellationToken cancellationToken)
    {
        var failures = 0;
        var throttled = 0;
        while (true)
        {
            if (rate is { } scope)
            {
                await _limiter.WaitAsync(scope.ChatId, scope.NewMessage, cancellationToken).ConfigureAwait(false);
            }
            try
            {
                return await SendOnceAsync(method, content(), timeout, postsMessage, cancellationToken).ConfigureAwait(false);
            }
            catch (ApiRequestException ex) when (ex.ErrorCode == 429 && throttled < Max429Resends && !NoWaitOn429.Value)
            {
                throttled++;
                var wait = TimeSpan.FromSeconds(Math.Max(1, ex.RetryAfter ?? 1));
                LogThrottled(method, wait.TotalSeconds);
                await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (ApiRequestException ex) when (ex.IsTransient && ex.ErrorCode != 429 && failures < maxRetries && !(ex.OutcomeUnknown && postsMessage))
            {
                var wait = TimeSpan.FromMilliseconds(_options.RetryBaseDelayMs * Math.Pow(2, failures));
                failures++;
                LogRetrying(method, ex.ErrorCode, ex.Description, failures, wait.TotalMilliseconds);
                await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <param name="postsMessage">The call posts a message: a failure after its request went out (no answer in time, the
    /// connection lost, a 5xx) leaves unknown whether it was posted, and says so (<see cref="ApiRequestException.OutcomeUnknown"/>).</param>
    private async Task<JsonElement> SendOnceAsync(string method, HttpContent content, TimeSpan timeout, bool postsMessage, CancellationToken cancellationToken)
    {
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        var tracked = new SentContent(content);
        using var request = new HttpRequestMessage(HttpMethod.Post, _endpoint.MethodUri(method)) { Content = tracked };
        HttpResponseMessage response;
        string body;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, timeoutSource.Token).ConfigureAwait(false);
            body = await response.Content.ReadAsStringAsync(timeoutSource.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ApiRequestException(method, 0, $"no answer within {timeout.TotalSeconds:0} s" + (postsMessage && tracked.WentOut ? AfterItWentOut : ""),
                outcomeUnknown: postsMessage && tracked.WentOut);
        }
        catch (HttpRequestException ex)
        {
            // The inner exception is dropped on purpose: its message may quote the request URL, which holds the token.
            throw new ApiRequestException(method, 0, "network failure: " + _endpoint.Redact(ex.Message) + $" ({ex.HttpRequestError})" +
                (postsMessage && tracked.WentOut ? AfterItWentOut : ""), outcomeUnknown: postsMessage && tracked.WentOut);
        }
        using (response)
        {
            ApiResponse<JsonElement>? envelope = null;
            try
            {
                envelope = JsonSerializer.Deserialize(body, TelegramJsonContext.Default.ApiResponseJsonElement);
            }
            catch (JsonException)
            {
            }
            if (envelope is null && response.StatusCode == HttpStatusCode.OK)
            {
                throw new ApiRequestException(method, 0, "HTTP 200 without a readable Bot API answer", outcomeUnknown: true);
            }
            var serverFailed = postsMessage && (int)response.StatusCode >= 500;
            if (envelope is null)
            {
                throw new ApiRequestException(method, (int)response.StatusCode, $"HTTP {(int)response.StatusCode} without a Bot API answer", outcomeUnknown: serverFailed);
            }
            if (envelope.Ok)
            {
                return envelope.Result.ValueKind == JsonValueKind.Undefined
                    ? throw new ApiRequestException(method, 0, "the Bot API answered ok without a result", outcomeUnknown: true)
                    : envelope.Result;
            }
            var code = envelope.ErrorCode ?? (int)response.StatusCode;
            throw new ApiRequestException(method, code, _endpoint.Redact(envelope.Description ?? "no description"),
                envelope.Parameters?.RetryAfter, envelope.Parameters?.MigrateToChatId, outcomeUnknown: serverFailed || (postsMessage && code >= 500));
        }
    }

    private const string AfterItWentOut = ", after the request went out";

    /// <summary>
    /// The request's body, noting when the handler starts writing it: by then the request is on its way to Telegram (a
    /// connection that could not be made never gets here), so a failure afterwards may hide a call that was carried out.
    /// </summary>
    private sealed class SentContent : HttpContent
    {
        private readonly HttpContent _inner;
        private volatile bool _wentOut;

        public SentContent(HttpContent inner)
        {
            _inner = inner;
            foreach (var header in inner.Headers.Where(h => !h.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)))
            {
                Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        public bool WentOut => _wentOut;

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            _wentOut = true;
            await _inner.CopyToAsync(stream, context, cancellationToken).ConfigureAwait(false);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _inner.Headers.ContentLength ?? -1;
            return length >= 0;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    /// <summary>The result of a call Telegram answered ok: one that cannot be read leaves what the call made unknown.</summary>
    private static T Deserialize<T>(JsonElement result, JsonTypeInfo<T> type, string method)
    {
        try
        {
            return result.Deserialize(type) ?? throw new ApiRequestException(method, 0, "the result is empty", outcomeUnknown: true);
        }
        catch (JsonException ex)
        {
            throw new ApiRequestException(method, 0, "the result does not match the Bot API type: " + ex.Message, outcomeUnknown: true);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Bot API {Method} answered 429; resending after {RetryAfterSeconds} s")]
    private partial void LogThrottled(string method, double retryAfterSeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Bot API {Method} failed ({ErrorCode} {Description}); retry {Attempt} in {DelayMs} ms")]
    private partial void LogRetrying(string method, int errorCode, string description, int attempt, double delayMs);
}
