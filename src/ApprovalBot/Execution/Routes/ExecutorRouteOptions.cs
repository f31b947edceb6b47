namespace ApprovalBot.Execution.Routes;

/// <summary>How approved drafts of one kind are executed, bound from <c>ApprovalBot:Kinds:&lt;kind&gt;:Executor</c>.</summary>
internal sealed class ExecutorRouteOptions
{
    /// <summary><c>command</c>, <c>webhook</c> or <c>pull</c>.</summary>
    public string? Type { get; set; }

    /// <summary>argv of a command route: the program, then its arguments. Never passed through a shell.</summary>
    public string[] Command { get; set; } = [];

    /// <summary>Absolute http(s) URL of a webhook route.</summary>
    public string? Url { get; set; }

    /// <summary>How long one attempt may run before it is killed and counted as failed.</summary>
    public int TimeoutSeconds { get; set; } = 30;

    /// <summary>Attempts before the draft becomes <c>failed</c> and waits for the approver.</summary>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>True when the sink dedupes by the idempotency key, so an attempt cut off by a crash may be re-run.</summary>
    public bool Idempotent { get; set; }

    /// <summary>Set by binding when <c>Command</c> was given as one string instead of an argv array.</summary>
    internal bool CommandWasScalar { get; set; }

    /// <summary>
    /// Set by binding: the keys the configuration gives this route, as spelt there. A key another route type takes is
    /// refused only when given, since a default (<c>TimeoutSeconds</c>'s 30) is not the user's choice.
    /// </summary>
    internal IReadOnlyList<string> GivenKeys { get; set; } = [];

    public RouteType RouteType => Type?.ToLowerInvariant() switch
    {
        "command" => RouteType.Command,
        "webhook" => RouteType.Webhook,
        "pull" => RouteType.Pull,
        _ => RouteType.Invalid,
    };

    public TimeSpan Timeout => TimeSpan.FromSeconds(TimeoutSeconds);
}

internal enum RouteType
{
    Invalid,
    Command,
    Webhook,
    Pull,
}

/// <summary>Every configured route, by kind. A kind missing here has no route: its approved drafts wait and are reported.</summary>
internal sealed class ExecutorRoutesOptions
{
    public Dictionary<string, ExecutorRouteOptions> Routes { get; } = new(StringComparer.Ordinal);

    public bool TryGet(string kind, out ExecutorRouteOptions route) => Routes.TryGetValue(kind, out route!);

    /// <summary>Kinds the executor pushes to (command and webhook); pull kinds wait for a claim.</summary>
    public IReadOnlyList<string> PushKinds() =>
        [.. Routes.Where(r => r.Value.RouteType is RouteType.Command or RouteType.Webhook).Select(r => r.Key).Order(StringComparer.Ordinal)];
}
