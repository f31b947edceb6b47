namespace ApprovalBot.Sandbox;

/// <summary>Telegram's documented broadcast limits: token buckets for private chats and overall, a sliding minute for groups.</summary>
public sealed record RateLimitSettings
{
    public double PrivateChatPerSecond { get; init; } = 1;

    /// <summary>Telegram tolerates short bursts in a private chat before answering 429.</summary>
    public int PrivateChatBurst { get; init; } = 3;

    /// <summary>Sends to one group in any 60 seconds.</summary>
    public int GroupPerMinute { get; init; } = 20;

    public int GlobalPerSecond { get; init; } = 30;
}
