using System.Text;

namespace ApprovalBot.Telegram.Cards;

/// <summary>
/// Builds a Telegram HTML message and counts its length as Telegram does (UTF-16 units after the tags are
/// parsed away), so a card can be checked against the 4096 limit before it is sent. Every piece of text
/// goes through <see cref="Escape"/>; only this class writes tags.
/// </summary>
internal sealed class HtmlText
{
    public const int MaxMessageLength = 4096;

    private readonly StringBuilder _html = new();

    /// <summary>The length of the message after entity parsing.</summary>
    public int PlainLength { get; private set; }

    public HtmlText Text(string text)
    {
        _html.Append(Escape(text));
        PlainLength += text.Length;
        return this;
    }

    public HtmlText Line(string text = "") => Text(text).Text("\n");

    public HtmlText Bold(string text) => Tag("b", text);

    public HtmlText Italic(string text) => Tag("i", text);

    public HtmlText Code(string text) => Tag("code", text);

    /// <summary>A link, only for absolute http(s) URLs; anything else is shown as plain text, never as an href.</summary>
    public HtmlText Link(string url, string label)
    {
        if (!IsWebUrl(url))
        {
            return Text(label);
        }
        _html.Append("<a href=\"").Append(Escape(url)).Append("\">");
        Text(label);
        _html.Append("</a>");
        return this;
    }

    public HtmlText Append(HtmlText other)
    {
        _html.Append(other._html);
        PlainLength += other.PlainLength;
        return this;
    }

    /// <summary>
    /// Appends <paramref name="lines"/> in order while the message stays within one Telegram message, less
    /// <paramref name="closingRoom"/> for a closing line (such as "…and N more"); returns how many fit. Lines are
    /// taken only as needed.
    /// </summary>
    public int AppendWhileFits(IEnumerable<HtmlText> lines, int closingRoom = 300)
    {
        var appended = 0;
        foreach (var line in lines)
        {
            if (PlainLength + line.PlainLength > MaxMessageLength - closingRoom)
            {
                break;
            }
            Append(line);
            appended++;
        }
        return appended;
    }

    public override string ToString() => _html.ToString();

    /// <summary>Escapes the characters Telegram's HTML parser treats specially; <c>"</c> too, so the result is also safe inside attributes.</summary>
    public static string Escape(string text)
    {
        if (text.AsSpan().IndexOfAny("&<>\"") < 0)
        {
            return text;
        }
        var sb = new StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            sb.Append(c switch
            {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                _ => c.ToString(),
            });
        }
        return sb.ToString();
    }

    public static bool IsWebUrl(string? url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && !string.IsNullOrEmpty(uri.Host);

    /// <summary>At most <paramref name="max"/> UTF-16 units, never cutting a surrogate pair, with "…" when shortened.</summary>
    public static string Shorten(string text, int max)
    {
        if (text.Length <= max)
        {
            return text;
        }
        var cut = Math.Max(0, max - 1);
        if (cut > 0 && char.IsHighSurrogate(text[cut - 1]))
        {
            cut--;
        }
        return text[..cut] + "…";
    }

    /// <summary>
    /// At most <paramref name="max"/> UTF-16 units, keeping the start (what happened: an exit code, a timeout, an HTTP
    /// status) and the end (a program's last stderr lines, which say why, and the note of what to do), with "… " between:
    /// cut at the end, an error lost the very words that say why a run failed. Never cuts a surrogate pair.
    /// </summary>
    public static string ShortenMiddle(string text, int max)
    {
        if (text.Length <= max)
        {
            return text;
        }
        var head = Shorten(text, max * 2 / 5);
        var from = text.Length - (max - head.Length - 1);
        if (char.IsLowSurrogate(text[from]))
        {
            from++;
        }
        return head + " " + text[from..];
    }

    private HtmlText Tag(string tag, string text)
    {
        _html.Append('<').Append(tag).Append('>');
        Text(text);
        _html.Append("</").Append(tag).Append('>');
        return this;
    }
}
