using Microsoft.Extensions.Options;

namespace ApprovalBot.Execution.Routes;

/// <summary>Refuses a route that could never run, at start, naming the key at fault.</summary>
internal sealed class ExecutorRoutesValidator : IValidateOptions<ExecutorRoutesOptions>
{
    public ValidateOptionsResult Validate(string? name, ExecutorRoutesOptions options)
    {
        var errors = new List<string>();
        foreach (var (kind, route) in options.Routes.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            var key = $"ApprovalBot:Kinds:{kind}:Executor";
            switch (route.RouteType)
            {
                case RouteType.Invalid:
                    errors.Add($"{key}:Type must be command, webhook or pull (got '{route.Type}').");
                    break;
                case RouteType.Command when route.CommandWasScalar:
                    errors.Add($"{key}:Command must be an argv array (program, then arguments), not one string; no shell is used.");
                    break;
                case RouteType.Command when route.Command.Length == 0 || string.IsNullOrWhiteSpace(route.Command[0]):
                    errors.Add($"{key}:Command must name the program to run (an argv array such as [\"/usr/local/bin/post-reply\", \"--json\"]).");
                    break;
                case RouteType.Webhook when !IsHttpUrl(route.Url):
                    errors.Add($"{key}:Url must be an absolute http or https URL (got '{route.Url}').");
                    break;
            }
            if (route.RouteType != RouteType.Invalid)
            {
                errors.AddRange(KeysOfOtherTypes(key, route));
            }
            if (route.RouteType != RouteType.Pull && route.TimeoutSeconds is < 1 or > 3600)
            {
                errors.Add($"{key}:TimeoutSeconds must be between 1 and 3600 (got {route.TimeoutSeconds}).");
            }
            if (route.MaxAttempts is < 1 or > 100)
            {
                errors.Add($"{key}:MaxAttempts must be between 1 and 100 (got {route.MaxAttempts}).");
            }
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>The route types that take each key not every type takes; the others (Type, MaxAttempts, Idempotent) apply to all.</summary>
    private static readonly (string Key, RouteType[] TakenBy, string Names)[] TypedKeys =
    [
        ("Command", [RouteType.Command], "a command route"),
        ("Url", [RouteType.Webhook], "a webhook route"),
        ("TimeoutSeconds", [RouteType.Command, RouteType.Webhook], "command and webhook routes (a pull route's lease is the claim's lease_seconds)"),
    ];

    /// <summary>
    /// A key of another route type is refused rather than ignored: a <c>Url</c> on a pull route, say, reads as a webhook the
    /// service would call, while nothing is ever sent there. Only keys the configuration gives count, not defaults.
    /// </summary>
    private static IEnumerable<string> KeysOfOtherTypes(string key, ExecutorRouteOptions route)
    {
        var type = route.RouteType.ToString().ToLowerInvariant();
        foreach (var (name, takenBy, names) in TypedKeys)
        {
            if (!takenBy.Contains(route.RouteType) && route.GivenKeys.Contains(name, StringComparer.OrdinalIgnoreCase))
            {
                yield return $"{key}:{name} is a setting of {names} only, and this route's Type is {type}: remove it" +
                    (takenBy.Length == 1 ? $", or set Type to {takenBy[0].ToString().ToLowerInvariant()}." : ".");
            }
        }
    }

    private static bool IsHttpUrl(string? url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);
}
