using System.Globalization;
using System.Text.RegularExpressions;

namespace ApprovalBot.Sandbox.State;

internal static partial class BotToken
{
    public static bool IsWellFormed(string token) => Format().IsMatch(token);

    /// <summary>A bot token starts with the bot's user id, which getMe reports.</summary>
    public static long BotId(string token) =>
        IsWellFormed(token)
            ? long.Parse(token.AsSpan(0, token.IndexOf(':', StringComparison.Ordinal)), CultureInfo.InvariantCulture)
            : throw new ArgumentException("The sandbox token must look like a bot token: \"<digits>:<letters, digits, - or _>\".", nameof(token));

    [GeneratedRegex("^[0-9]{1,19}:[A-Za-z0-9_-]+$")]
    private static partial Regex Format();
}
