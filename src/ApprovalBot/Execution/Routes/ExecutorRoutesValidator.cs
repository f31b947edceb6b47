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
            if (route.TimeoutSeconds is < 1 or > 3600)
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

    private static bool IsHttpUrl(string? url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);
}
