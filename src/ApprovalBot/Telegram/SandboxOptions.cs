namespace ApprovalBot.Telegram;

/// <summary>Bound from <c>ApprovalBot:Sandbox</c>: the built-in Bot API sandbox used when no token is set.</summary>
internal sealed class SandboxOptions
{
    public const string Section = "ApprovalBot:Sandbox";

    /// <summary>Where the sandbox listens; port 0 picks a free port. A loopback address unless <see cref="AllowRemote"/>.</summary>
    public string Url { get; set; } = "http://127.0.0.1:5780";

    /// <summary>Whether the sandbox answers 429 like Telegram when its limits are exceeded.</summary>
    public bool RateLimits { get; set; } = true;

    /// <summary>
    /// Lets <see cref="Url"/> be a non-loopback address. Off by default: the sandbox's page and its /sandbox/ control
    /// surface need no login, so anyone who reaches it can approve as the sandbox approver. The Docker image sets it,
    /// because inside a container the sandbox must listen on 0.0.0.0 for a published port to reach it.
    /// </summary>
    public bool AllowRemote { get; set; }
}
