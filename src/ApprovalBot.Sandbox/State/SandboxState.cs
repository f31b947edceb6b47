using System.Globalization;

namespace ApprovalBot.Sandbox.State;

/// <summary>
/// Everything the fake Telegram knows. The collections are plain (not thread-safe) on purpose:
/// they may be touched only inside <see cref="Gate"/>'s Read/Write, which also wakes waiters on change.
/// </summary>
internal sealed class SandboxState
{
    public SandboxState(SandboxSettings settings, TimeProvider clock)
    {
        Settings = settings;
        Clock = clock;
        Token = settings.Token;
        Bot = new SandboxUser(BotToken.BotId(settings.Token), "ApprovalBot Sandbox", IsBot: true, "approvalbot_sandbox_bot");
        Approver = new SandboxUser(settings.ApproverId, settings.ApproverName, IsBot: false);
        Stranger = new SandboxUser(settings.StrangerId, settings.StrangerName, IsBot: false);
        Users = new Dictionary<long, SandboxUser> { [Approver.Id] = Approver, [Stranger.Id] = Stranger };
        FirstMessageId = settings.FirstMessageId ?? SandboxSettings.ClockBasedFirstMessageId(clock.GetUtcNow());
        AddChat(new SandboxChat(Approver.Id, "private", null, Approver, FirstMessageId));
        AddChat(new SandboxChat(Stranger.Id, "private", null, Stranger, FirstMessageId));
        AddChat(new SandboxChat(settings.GroupChatId, "group", settings.GroupTitle, null, FirstMessageId));
        Updates = new UpdateQueue(settings.FirstUpdateId ?? ClockBasedFirstUpdateId(clock));
        Limits = new RateLimiter(settings.Limits, settings.RateLimits);
    }

    public StateGate Gate { get; } = new();

    public SandboxSettings Settings { get; }

    /// <summary>The bot's token now: the configured one until revoked (<see cref="SandboxControl.RevokeToken"/>), as in BotFather.</summary>
    public string Token { get; set; }

    public TimeProvider Clock { get; }

    /// <summary>Where every chat's message ids start (<see cref="SandboxSettings.FirstMessageId"/>).</summary>
    public int FirstMessageId { get; }

    public DateTimeOffset Now => Clock.GetUtcNow();

    public SandboxUser Bot { get; }

    public SandboxUser Approver { get; }

    public SandboxUser Stranger { get; }

    public Dictionary<long, SandboxUser> Users { get; }

    public Dictionary<long, SandboxChat> Chats { get; } = [];

    public UpdateQueue Updates { get; }

    public CallbackRegistry Callbacks { get; } = new();

    public CommandStore Commands { get; } = new();

    public CallLog Calls { get; } = new();

    public FaultPlan Faults { get; } = new();

    public RateLimiter Limits { get; }

    public Dictionary<string, StoredDocument> Files { get; } = new(StringComparer.Ordinal);

    public void AddChat(SandboxChat chat) => Chats[chat.Id] = chat;

    public SandboxUser UserOrThrow(long userId) =>
        Users.GetValueOrDefault(userId) ?? throw new ArgumentException($"The sandbox has no user {userId}.", nameof(userId));

    public SandboxChat ChatOrThrow(long chatId) =>
        Chats.GetValueOrDefault(chatId) ?? throw new ArgumentException($"The sandbox has no chat {chatId}.", nameof(chatId));

    /// <summary>The chat a Bot API call addresses, refused the way Telegram refuses it.</summary>
    public SandboxChat ChatForBot(long? chatId)
    {
        if (chatId is not { } id || !Chats.TryGetValue(id, out var chat))
        {
            throw BotApiException.BadRequest("chat not found");
        }

        if (chat.MigratedTo is { } newId)
        {
            throw new BotApiException(400, "Bad Request: group chat was upgraded to a supergroup chat", migrateToChatId: newId);
        }

        if (chat.BotRefused is { } refused)
        {
            throw new BotApiException(403, refused);
        }

        return chat;
    }

    /// <summary>Telegram's update ids are not small; starting from the clock keeps a restarted sandbox above ids a bot already confirmed.</summary>
    private static long ClockBasedFirstUpdateId(TimeProvider clock) =>
        Math.Max(1, (clock.GetUtcNow().ToUnixTimeSeconds() - 1_700_000_000) * 10);
}
