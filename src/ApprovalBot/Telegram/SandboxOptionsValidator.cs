using System.Net;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Telegram;

internal sealed class SandboxOptionsValidator : IValidateOptions<SandboxOptions>
{
    private const string P = SandboxOptions.Section + ":";

    public ValidateOptionsResult Validate(string? name, SandboxOptions options)
    {
        if (!Uri.TryCreate(options.Url, UriKind.Absolute, out var url) || url.Scheme != "http")
        {
            return ValidateOptionsResult.Fail(P + $"Url must be an http URL such as http://127.0.0.1:5780 (port 0 picks a free one; got '{options.Url}').");
        }
#if !NO_SANDBOX
        // A host built without the sandbox (NoSandbox) has neither it nor its URL rules, and never listens on this URL.
        if (ApprovalBot.Sandbox.SandboxSettings.UrlShapeProblem(options.Url) is { } extra)
        {
            // Kestrel refuses a path and binds no user info; without a port the sandbox took 80, not the one meant.
            return ValidateOptionsResult.Fail(P +
                $"Url must be http://<address>:<port> and nothing more, such as http://127.0.0.1:5780 (port 0 picks a free one); '{options.Url}' has {extra}.");
        }
#endif
        if (!options.AllowRemote && !IsLoopback(url))
        {
            return ValidateOptionsResult.Fail(P +
                $"Url must be a loopback address (127.0.0.1, [::1] or localhost), because anyone who reaches the sandbox can approve as its approver " +
                $"(its /sandbox/ control surface has no login); set {P}AllowRemote=true to listen on '{url.Host}' anyway, " +
                $"e.g. in a container whose port is published to the host's loopback only (got '{options.Url}').");
        }
        return ValidateOptionsResult.Success;
    }

    /// <summary>
    /// What Kestrel binds to loopback only: "localhost" or a loopback IP. Any other name makes it listen on every
    /// interface, so it does not count.
    /// </summary>
    public static bool IsLoopback(Uri url) =>
        string.Equals(url.Host, "localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(url.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
}
