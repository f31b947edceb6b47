using System.Text.Json.Serialization;

namespace ApprovalBot.Telegram.Api;

// The subset of Bot API types this bot reads and writes, named like Telegram.Bot's. Fields the bot does
// not use are skipped on read, so a newer Bot API adding fields changes nothing here. The fields it goes by to
// authorize and record (which query, who, in which chat) are [JsonRequired], and none may be null
// (RespectNullableAnnotations): an update without one is skipped as malformed, rather than read as user 0, chat 0
// or query "", or throwing in a handler.

internal sealed record User
{
    [JsonRequired]
    public long Id { get; init; }
    public bool IsBot { get; init; }
    public string FirstName { get; init; } = "";
    public string? LastName { get; init; }
    public string? Username { get; init; }

    /// <summary>How the bot names a person in a card: "First Last (@username)".</summary>
    [JsonIgnore]
    public string DisplayName =>
        (LastName is { Length: > 0 } ? FirstName + " " + LastName : FirstName) + (Username is { Length: > 0 } ? " (@" + Username + ")" : "");
}

internal sealed record Chat
{
    [JsonRequired]
    public long Id { get; init; }
    public string Type { get; init; } = "";
    public string? Title { get; init; }
    public string? Username { get; init; }
}

internal sealed record Message
{
    [JsonRequired]
    public long MessageId { get; init; }
    public User? From { get; init; }
    [JsonRequired]
    public Chat Chat { get; init; } = new();
    public long Date { get; init; }
    public string? Text { get; init; }
    public string? Caption { get; init; }
    public InlineKeyboardMarkup? ReplyMarkup { get; init; }
    /// <summary>Service message in a group upgraded to a supergroup: the supergroup's id.</summary>
    public long? MigrateToChatId { get; init; }

    /// <summary>Service message in a supergroup upgraded from a group: the group's id.</summary>
    public long? MigrateFromChatId { get; init; }
}

internal sealed record CallbackQuery
{
    [JsonRequired]
    public string Id { get; init; } = "";
    [JsonRequired]
    public User From { get; init; } = new();
    public Message? Message { get; init; }
    public string? InlineMessageId { get; init; }
    public string? ChatInstance { get; init; }
    public string? Data { get; init; }
}

internal sealed record Update
{
    public long UpdateId { get; init; }
    public Message? Message { get; init; }
    public CallbackQuery? CallbackQuery { get; init; }

    /// <summary>The bot's own status in a chat changed (asked for in allowed_updates).</summary>
    public ChatMemberUpdated? MyChatMember { get; init; }
}

/// <summary>
/// A change of one member's status in a chat; in a my_chat_member update, the bot's own. Every field is optional here
/// (the Bot API requires them): the handler names what is missing rather than taking a default for it.
/// </summary>
internal sealed record ChatMemberUpdated
{
    public Chat? Chat { get; init; }

    /// <summary>Who made the change: whoever added or removed the bot, the user who blocked or unblocked it.</summary>
    public User? From { get; init; }
    public long Date { get; init; }
    public ChatMember? OldChatMember { get; init; }
    public ChatMember? NewChatMember { get; init; }
}

/// <summary>
/// A member of a chat: the Bot API's six kinds (ChatMemberOwner … ChatMemberBanned) in one record, told apart by
/// <see cref="Status"/> ("creator", "administrator", "member", "restricted", "left", "kicked"), with the fields that
/// say whether it may post.
/// </summary>
internal sealed record ChatMember
{
    public string? Status { get; init; }
    public User? User { get; init; }

    /// <summary>Restricted: still a member of the chat.</summary>
    public bool? IsMember { get; init; }

    /// <summary>Restricted: may send text messages.</summary>
    public bool? CanSendMessages { get; init; }

    /// <summary>An administrator of a channel: may post in it.</summary>
    public bool? CanPostMessages { get; init; }
}

internal sealed record InlineKeyboardMarkup(IReadOnlyList<IReadOnlyList<InlineKeyboardButton>> InlineKeyboard);

internal sealed record InlineKeyboardButton(string Text)
{
    public string? CallbackData { get; init; }
    public string? Url { get; init; }
}

internal sealed record BotCommand(string Command, string Description);

internal sealed record LinkPreviewOptions(bool IsDisabled);

internal sealed record ResponseParameters
{
    public long? MigrateToChatId { get; init; }
    public int? RetryAfter { get; init; }
}

/// <summary>The envelope every Bot API answer comes in.</summary>
internal sealed record ApiResponse<T>
{
    public bool Ok { get; init; }
    public T? Result { get; init; }
    public int? ErrorCode { get; init; }
    public string? Description { get; init; }
    public ResponseParameters? Parameters { get; init; }
}

internal static class ParseMode
{
    public const string Html = "HTML";
}
