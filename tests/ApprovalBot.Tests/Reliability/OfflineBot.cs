namespace ApprovalBot.Tests.Reliability;

/// <summary>
/// Settings of a host whose Bot API is a closed port: the real-bot path (no built-in sandbox, so no port of its own to
/// take), with every card left to wait. For the crash tests, which are about the store.
/// </summary>
internal static class OfflineBot
{
    public static readonly string[] Settings =
    [
        "ApprovalBot:Telegram:Token=1:test", "ApprovalBot:Telegram:ApiBaseUrl=http://127.0.0.1:9",
        "ApprovalBot:Telegram:ChatId=1", "ApprovalBot:Telegram:Approvers:0=1",
    ];
}
