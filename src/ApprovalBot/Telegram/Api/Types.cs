using System.Text.Json.Serialization;

namespace ApprovalBot.Telegram.Api;

// The subset of Bot API types this bot reads and writes, named like Telegram.Bot's. Fields the bot does
// not use are skipped on read, so a newer Bot API adding fields changes nothing here.

internal sealed record User
{
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
    public long Id { get; init; }
    public string Type { get; init; } = "";
    public string? Title { get; init; }
    public string? Username { get; init; }
}

internal sealed record Message
{
    public long MessageId { get; init; }
    public User? From { get; init; }
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
    public string Id { get; init; } = "";
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
