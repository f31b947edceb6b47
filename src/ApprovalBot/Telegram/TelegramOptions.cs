namespace ApprovalBot.Telegram;

/// <summary>Bound from <c>ApprovalBot:Telegram</c>.</summary>
internal sealed class TelegramOptions
{
    public const string Section = "ApprovalBot:Telegram";

    public const string DefaultApiBaseUrl = "https://api.telegram.org";

    /// <summary>The bot token from BotFather. Empty: run against the built-in sandbox.</summary>
    public string Token { get; set; } = "";

    /// <summary>The Bot API server; a local Bot API server works too.</summary>
    public string ApiBaseUrl { get; set; } = DefaultApiBaseUrl;

    /// <summary>The chat that receives cards and escalations. Required with a token; the sandbox's private chat without one.</summary>
    public long ChatId { get; set; }

    /// <summary>Telegram user ids allowed to decide and run commands. Required with a token; the sandbox's approver without one.</summary>
    public long[] Approvers { get; set; } = [];

    /// <summary>getUpdates long-poll timeout; the HTTP timeout of that call is this plus <see cref="HttpTimeoutSeconds"/>.</summary>
    public int PollTimeoutSeconds { get; set; } = 30;

    /// <summary>Timeout of one Bot API HTTP call (added to the poll timeout for getUpdates).</summary>
    public int HttpTimeoutSeconds { get; set; } = 15;

    /// <summary>How often a 5xx or network failure is resent inside one call before the caller sees it.</summary>
    public int MaxCallRetries { get; set; } = 3;

    /// <summary>First backoff of a call retry; doubles each time.</summary>
    public int RetryBaseDelayMs { get; set; } = 500;

    /// <summary>Card delivery attempts before the draft is left with its <c>card_error</c> for the reconciler.</summary>
    public int CardMaxAttempts { get; set; } = 8;

    /// <summary>First delay between card delivery attempts; doubles per attempt up to <see cref="CardRetryMaxDelaySeconds"/>.</summary>
    public int CardRetryBaseDelaySeconds { get; set; } = 5;

    public int CardRetryMaxDelaySeconds { get; set; } = 600;

    /// <summary>The wait after failed attempt <paramref name="attempt"/> (1-based) at a card: doubling from the base, capped.</summary>
    public TimeSpan CardRetryDelay(int attempt) =>
        TimeSpan.FromSeconds(Math.Min(CardRetryMaxDelaySeconds, CardRetryBaseDelaySeconds * Math.Pow(2, attempt - 1)));

    /// <summary>A safety-net sweep for pending drafts the change signal may have missed (e.g. submitted before start).</summary>
    public int CardSweepSeconds { get; set; } = 60;

    public TelegramRateLimits RateLimits { get; set; } = new();

    public bool SandboxMode => string.IsNullOrWhiteSpace(Token);
}

/// <summary>Outgoing limits kept on our side, so Telegram rarely has to answer 429.</summary>
internal sealed class TelegramRateLimits
{
    /// <summary>Messages per second to one private chat (Telegram: about 1).</summary>
    public double PerChatPerSecond { get; set; } = 1;

    /// <summary>Short burst allowed in a private chat before the per-second rate applies.</summary>
    public int PerChatBurst { get; set; } = 3;

    /// <summary>Messages to one group in any 60 seconds (Telegram: 20 per minute).</summary>
    public int PerGroupPerMinute { get; set; } = 20;

    /// <summary>Messages overall in any second (Telegram: 30).</summary>
    public int GlobalPerSecond { get; set; } = 30;
}
