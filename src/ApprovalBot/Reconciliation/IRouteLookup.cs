using Microsoft.Extensions.Configuration;

namespace ApprovalBot.Reconciliation;

/// <summary>Which executor route type (command, webhook, pull) a kind has; null when it has none.</summary>
internal interface IRouteLookup
{
    string? RouteType(string kind);
}

/// <summary>Reads <c>Kinds:&lt;kind&gt;:Executor:Type</c>; the execution feature validates the route itself.</summary>
internal sealed class ConfiguredRouteLookup(IConfiguration configuration) : IRouteLookup
{
    public string? RouteType(string kind) =>
        configuration.GetSection($"ApprovalBot:Kinds:{kind}:Executor").Exists()
            ? (configuration[$"ApprovalBot:Kinds:{kind}:Executor:Type"] ?? "").Trim().ToLowerInvariant()
            : null;
}
