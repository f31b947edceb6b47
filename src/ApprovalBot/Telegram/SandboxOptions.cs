namespace ApprovalBot.Telegram;

/// <summary>Bound from <c>ApprovalBot:Sandbox</c>: the built-in Bot API sandbox used when no token is set.</summary>
internal sealed class SandboxOptions
{
    public const string Section = "ApprovalBot:Sandbox";

    /// <summary>Where the sandbox listens; port 0 picks a free port.</summary>
    public string Url { get; set; } = "http://127.0.0.1:5780";

    /// <summary>Whether the sandbox answers 429 like Telegram when its limits are exceeded.</summary>
    public bool RateLimits { get; set; } = true;
}
