using System.Net;
using Microsoft.AspNetCore.Http;

namespace ApprovalBot.Sandbox.Http;

/// <summary>
/// Refuses what a web page in the user's browser could make of the sandbox, which has no login: a Host other than the
/// sandbox's own address (DNS rebinding: attacker.example pointed at 127.0.0.1 would read the chat), an Origin other than
/// its own (a form or no-cors POST from another site), a request another site made (Fetch Metadata: an image's GET of
/// getUpdates), and a POST or PUT under /sandbox/ that is not JSON (a body a page can send without a CORS preflight, which
/// the sandbox never grants). The service's own Bot API calls send none of these headers but Host, which its base URL
/// sets to the address the sandbox serves. ASP.NET's host filtering matches names only, never a port or "any IP address".
/// </summary>
internal sealed class BrowserGuard(bool allowRemote)
{
    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (Refusal(context.Request, context.Connection.LocalPort) is not { } refusal)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var path = context.Request.Path;
        await (path == "/" || path.StartsWithSegments("/sandbox", StringComparison.Ordinal)
            ? ControlJson.WriteErrorAsync(context, refusal.Status, refusal.Reason)
            : BotResponses.WriteErrorAsync(context.Response, new BotApiException(refusal.Status, refusal.Reason))).ConfigureAwait(false);
    }

    private (int Status, string Reason)? Refusal(HttpRequest request, int servedPort)
    {
        if (!IsOwnHost(request.Host, servedPort))
        {
            var shown = request.Host.HasValue ? request.Host.Value : "(none)";
            var served = allowRemote ? "an IP address or localhost" : $"a loopback address or localhost, port {servedPort}";
            return (StatusCodes.Status421MisdirectedRequest,
                $"Host {shown} is not this sandbox: it answers only to its own address ({served}), so that a page whose name was pointed here (DNS rebinding) reads and presses nothing.");
        }

        var own = $"{request.Scheme}://{request.Host.Value}";
        if (request.Headers.Origin.FirstOrDefault() is { Length: > 0 } origin && !string.Equals(origin, own, StringComparison.OrdinalIgnoreCase))
        {
            return (StatusCodes.Status403Forbidden, $"Origin {origin} is not the sandbox at {own}: a page of another site may not press, send or change anything here.");
        }

        if (request.Headers["Sec-Fetch-Site"].FirstOrDefault() is "cross-site" or "same-site" && !IsLinkToThePage(request))
        {
            return (StatusCodes.Status403Forbidden, "A request made by a page of another site (Sec-Fetch-Site) is refused: only the sandbox's own page, a script or the service may call it.");
        }

        if ((HttpMethods.IsPost(request.Method) || HttpMethods.IsPut(request.Method))
            && request.Path.StartsWithSegments("/sandbox", StringComparison.Ordinal)
            && !request.HasJsonContentType())
        {
            return (StatusCodes.Status415UnsupportedMediaType,
                "A POST or PUT under /sandbox/ needs Content-Type: application/json (with an empty body where the endpoint takes none): " +
                "a page of another site can send any other type without asking.");
        }

        return null;
    }

    /// <summary>The page opened from a link or a bookmark elsewhere: a top-level GET of "/" only, which changes nothing.</summary>
    private static bool IsLinkToThePage(HttpRequest request) =>
        (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method))
        && request.Path == "/"
        && request.Headers["Sec-Fetch-Mode"].FirstOrDefault() == "navigate";

    /// <summary>
    /// Loopback only: localhost or a loopback address on the port the request came in on. With AllowRemote, any IP address
    /// or localhost on any port (a container's published port may differ), never a name a page's owner could point here.
    /// </summary>
    private bool IsOwnHost(HostString host, int servedPort)
    {
        if (!host.HasValue)
        {
            return false;
        }
        var isLocalhost = string.Equals(host.Host, "localhost", StringComparison.OrdinalIgnoreCase);
        var ip = IPAddress.TryParse(host.Host.Trim('[', ']'), out var parsed) ? parsed : null;
        return allowRemote
            ? isLocalhost || ip is not null
            : (isLocalhost || (ip is not null && IPAddress.IsLoopback(ip))) && (host.Port ?? 80) == servedPort;
    }
}
