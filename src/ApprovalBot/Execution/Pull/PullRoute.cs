using ApprovalBot.Client;
using ApprovalBot.Execution.Routes;
using ApprovalBot.Pipe;

namespace ApprovalBot.Execution.Pull;

/// <summary>Boundary checks shared by the pull ops.</summary>
internal static class PullRoute
{
    public const int MaxTextField = 2000;

    public static void RequireText(string? value, string field, bool required, int max = MaxTextField)
    {
        if (value is null)
        {
            if (required) throw new ProtocolException(ErrorCodes.Invalid, $"required field '{field}' is missing", field);
            return;
        }
        if (required && string.IsNullOrWhiteSpace(value))
        {
            throw new ProtocolException(ErrorCodes.Invalid, "must not be empty", field);
        }
        if (value.Length > max)
        {
            throw new ProtocolException(ErrorCodes.Invalid, $"must be at most {max} characters", field);
        }
    }

    public static ProtocolException LeaseLost(string id) =>
        new(ErrorCodes.LeaseLost, $"draft '{(id.Length <= 64 ? id : id[..64] + "…")}' is not executing under this lease (it expired, was returned to the queue, or was finished)", "lease");

    /// <summary>The route of a claimed draft's kind; the draft kept its kind, but the config may have changed since.</summary>
    public static ExecutorRouteOptions RouteOrDefault(ExecutorRoutesOptions routes, string kind) =>
        routes.TryGet(kind, out var route) ? route : new ExecutorRouteOptions { Type = "pull", MaxAttempts = 1 };
}
