using System.Text.Json.Nodes;
using ApprovalBot.Telegram.Api;
using ApprovalBot.Telegram.Cards;

namespace ApprovalBot.Telegram.Updates;

/// <summary>
/// Free text from an update (a command name, button data, a person's name) as the ledger and the log keep it. Anyone who
/// can message the bot chooses it, and a refused update is recorded, so it is bounded: a longer value keeps its first
/// characters and "…" (never half a surrogate pair), and the record also keeps the original length (UTF-16 units, as
/// .NET counts). The bounds are sized to Telegram's own limits, so what a real client sends is rarely cut.
/// </summary>
internal static class RecordedText
{
    /// <summary>A command name (Telegram allows 32 characters), button data (64 bytes), a chat type.</summary>
    public const int MaxLength = 64;

    /// <summary>A person as <see cref="User.DisplayName"/> names them: first (64) and last name (64), username (32).</summary>
    public const int MaxNameLength = 64 + 1 + 64 + 4 + 32;

    public static string Shorten(string text, int max = MaxLength) => HtmlText.Shorten(text, max);

    /// <summary>The person's display name, bounded.</summary>
    public static string Name(User user) => Shorten(user.DisplayName, MaxNameLength);

    /// <summary>Sets <c>user_name</c> to the person's bounded display name (and <c>user_name_length</c> when it was shortened).</summary>
    public static JsonObject PutUser(this JsonObject details, User user) => details.Put("user_name", user.DisplayName, MaxNameLength);

    /// <summary>Sets <paramref name="key"/> to the bounded value and, when it was shortened, <c>{key}_length</c> to its original length.</summary>
    public static JsonObject Put(this JsonObject details, string key, string? value, int max = MaxLength)
    {
        details[key] = value is null ? null : Shorten(value, max);
        if (value is not null && value.Length > max)
        {
            details[key + "_length"] = value.Length;
        }
        return details;
    }
}
