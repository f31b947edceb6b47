namespace ApprovalBot.Sandbox;

/// <summary>How the sandbox listens and who lives in it.</summary>
public sealed record SandboxSettings
{
    /// <summary>Where to listen; port 0 picks a free port (read the result from <see cref="SandboxServer.BaseUrl"/>).</summary>
    public string Url { get; init; } = "http://127.0.0.1:5780";

    /// <summary>
    /// Lets <see cref="Url"/> be a non-loopback address. Off by default: the human page and the /sandbox/ control
    /// surface need no login, so anyone who reaches the sandbox can press buttons as the approver.
    /// </summary>
    public bool AllowRemote { get; init; }

    /// <summary>The bot token the sandbox accepts; any string in the bot-token format "&lt;bot id&gt;:&lt;secret&gt;".</summary>
    public string Token { get; init; } = "123456:SANDBOX-token";

    public long ApproverId { get; init; } = 1001;

    public string ApproverName { get; init; } = "Alice";

    /// <summary>A user who is not an approver but exists in the chats, for authorization tests.</summary>
    public long StrangerId { get; init; } = 666;

    public string StrangerName { get; init; } = "Mallory";

    public long GroupChatId { get; init; } = -1001;

    public string GroupTitle { get; init; } = "Sandbox group";

    public bool RateLimits { get; init; } = true;

    public RateLimitSettings Limits { get; init; } = new();

    /// <summary>
    /// First update_id handed out; null derives it from the clock so a restarted sandbox keeps
    /// issuing ids above those a long-running bot has already confirmed.
    /// </summary>
    public long? FirstUpdateId { get; init; }

    /// <summary>
    /// First message_id in every chat; null derives it from the clock (<see cref="ClockBasedFirstMessageId"/>). A real
    /// chat keeps its messages and never hands out an id twice, while the sandbox starts empty: a bot that kept the ids
    /// of its messages across a restart of the sandbox must not find them on other messages.
    /// </summary>
    public int? FirstMessageId { get; init; }

    /// <summary>
    /// Seconds since late 2023: above every id a sandbox started earlier handed out in a chat at up to one message a
    /// second, the pace Telegram allows a bot in a private chat (a group allows 20 a minute), and below 2^31 until 2091.
    /// </summary>
    public static int ClockBasedFirstMessageId(DateTimeOffset now) =>
        (int)Math.Clamp(now.ToUnixTimeSeconds() - 1_700_000_000, 1, int.MaxValue);

    /// <summary>
    /// What <paramref name="url"/> has beyond http://&lt;address&gt;:&lt;port&gt;, or lacks of it ("a path", "no port", ...);
    /// null when it is just that. Kestrel refuses a path and binds no user info; without a port the sandbox took 80, not
    /// the one meant. Not an http URL at all: "not an http URL".
    /// </summary>
    public static string? UrlShapeProblem(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != "http")
        {
            return "not an http URL";
        }
        return uri.AbsolutePath != "/" ? "a path"
            : uri.Query.Length > 0 || url.Contains('?', StringComparison.Ordinal) ? "a query"
            : uri.Fragment.Length > 0 || url.Contains('#', StringComparison.Ordinal) ? "a fragment"
            : uri.UserInfo.Length > 0 ? "user info"
            : !HasPort(url) ? "no port"
            : null;
    }

    /// <summary>Whether the authority of <paramref name="url"/> (an absolute http URL) names a port: Uri says the default port either way.</summary>
    private static bool HasPort(string url)
    {
        var authority = url[(url.IndexOf("://", StringComparison.Ordinal) + 3)..];
        if (authority.IndexOfAny(['/', '?', '#']) is var end and >= 0)
        {
            authority = authority[..end];
        }
        authority = authority[(authority.LastIndexOf('@') + 1)..];
        return authority.LastIndexOf(':') > authority.LastIndexOf(']');
    }

    /// <summary>Whether Kestrel binds <paramref name="url"/> to loopback only: "localhost" or a loopback IP (any other name listens everywhere).</summary>
    public static bool IsLoopbackUrl(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri)
        && (string.Equals(uri.Host, "localhost", StringComparison.OrdinalIgnoreCase)
            || (System.Net.IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && System.Net.IPAddress.IsLoopback(ip)));
}
