using System.Security.Cryptography;
using System.Text;
using ApprovalBot.Sandbox.Methods;
using ApprovalBot.Sandbox.Spec;
using ApprovalBot.Sandbox.State;
using ApprovalBot.Sandbox.Validation;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Sandbox.Http;

/// <summary>
/// /bot&lt;token&gt;/&lt;method&gt;: checks in Telegram's order (token, method, parameters), applies injected faults,
/// runs the method and records the call. The token never reaches a log line or the call record.
/// </summary>
internal sealed class BotApiEndpoint(
    SandboxState state,
    BotApiSpec spec,
    CallValidator validator,
    IReadOnlyDictionary<string, IBotMethod> methods,
    CancellationToken serverStopping,
    ILogger logger)
{
    public async Task HandleAsync(HttpContext context)
    {
        var methodName = context.Request.RouteValues["method"] as string ?? "";
        if (context.Request.RouteValues["botToken"] is not string botToken || !botToken.StartsWith("bot", StringComparison.Ordinal))
        {
            await BotResponses.WriteErrorAsync(context.Response, BotApiException.NotFound()).ConfigureAwait(false);
            return;
        }
        var token = botToken["bot".Length..];
        using var aborted = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, serverStopping);
        var ct = aborted.Token;
        var shown = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(token), Encoding.UTF8.GetBytes(state.Gate.Read(() => state.Token))))
            {
                logger.LogWarning("Bot API call to {Method} with a wrong token", methodName);
                throw BotApiException.Unauthorized();
            }

            var method = spec.FindMethod(methodName) ?? throw BotApiException.NotFound();
            methodName = method.Name;
            var raw = await RequestParameterReader.ReadAsync(context.Request, ct).ConfigureAwait(false);
            foreach (var (name, value) in raw)
            {
                shown[name] = value.Display();
            }

            var fault = state.Gate.Write(() => state.Faults.TakeNext(method.Name));
            await ApplyPreCallFaultAsync(fault, method.Name, ct).ConfigureAwait(false);

            var handler = methods.GetValueOrDefault(method.Name) ?? throw BotApiException.BadRequest("method not supported by the sandbox");
            var call = validator.Validate(method, raw);
            if (fault is { Kind: SandboxFaultKind.Hang, Gate: null } && context.RequestAborted.IsCancellationRequested)
            {
                // Telegram does the work of a request it received whether or not the client still waits for the answer.
                await handler.InvokeAsync(call, serverStopping).ConfigureAwait(false);
                Record(methodName, shown, 0, "applied after the client gave up waiting", responseLost: true);
                context.Abort();
                return;
            }
            var result = await handler.InvokeAsync(call, ct).ConfigureAwait(false);

            if (fault is { Kind: SandboxFaultKind.ResponseLost })
            {
                Record(methodName, shown, 200, "applied, response lost", responseLost: true);
                await LoseResponseAsync(context, fault.LossMode).ConfigureAwait(false);
                return;
            }

            Record(methodName, shown, 200, null);
            await BotResponses.WriteOkAsync(context.Response, result).ConfigureAwait(false);
        }
        catch (BotApiException e)
        {
            Record(methodName, shown, e.ErrorCode, e.Description);
            await BotResponses.WriteErrorAsync(context.Response, e).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            Record(methodName, shown, 0, "client disconnected or sandbox stopping before an answer");
            context.Abort();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A sandbox bug must not look like a Telegram refusal the client could be blamed for.
            logger.LogError(e, "Sandbox failure while serving {Method}", methodName);
            var failure = new BotApiException(500, "Internal Server Error: sandbox failure: " + e.Message);
            Record(methodName, shown, failure.ErrorCode, failure.Description);
            await BotResponses.WriteErrorAsync(context.Response, failure).ConfigureAwait(false);
        }
    }

    private async Task ApplyPreCallFaultAsync(SandboxFault? fault, string method, CancellationToken ct)
    {
        switch (fault?.Kind)
        {
            case SandboxFaultKind.Error:
                logger.LogInformation("Injected fault: {Method} answers {Code}", method, fault.ErrorCode);
                throw new BotApiException(fault.ErrorCode, fault.Description ?? "Injected fault", fault.RetryAfter, fault.MigrateToChatId);
            case SandboxFaultKind.Hang:
                logger.LogInformation("Injected fault: {Method} hangs", method);
                if (fault.Gate is { } gate)
                {
                    await gate.PassAsync(ct).ConfigureAwait(false);
                }
                else
                {
                    try
                    {
                        await Task.Delay(fault.HangFor ?? Timeout.InfiniteTimeSpan, ct).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!serverStopping.IsCancellationRequested)
                    {
                        // The client gave up: the call is still carried out (HandleAsync), as Telegram does.
                    }
                }
                break;
        }
    }

    private async Task LoseResponseAsync(HttpContext context, ResponseLossMode mode)
    {
        logger.LogInformation("Injected fault: response lost ({Mode})", mode);
        switch (mode)
        {
            case ResponseLossMode.BadGateway:
                await BotResponses.WriteErrorAsync(context.Response, new BotApiException(502, "Bad Gateway")).ConfigureAwait(false);
                break;
            case ResponseLossMode.Unreadable:
                context.Response.StatusCode = 200;
                context.Response.ContentType = "text/html";
                await context.Response.WriteAsync("<html><body>200 OK</body></html>").ConfigureAwait(false);
                break;
            case ResponseLossMode.NoResult:
                context.Response.StatusCode = 200;
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync("{\"ok\":true}").ConfigureAwait(false);
                break;
            default:
                context.Abort();
                break;
        }
    }

    private void Record(string method, Dictionary<string, string> parameters, int status, string? description, bool responseLost = false)
    {
        state.Gate.Write(() => state.Calls.Add(state.Now, method, parameters, status, description, responseLost));
        logger.LogDebug("Bot API {Method} -> {Status} {Description}", method, status, description);
    }
}
