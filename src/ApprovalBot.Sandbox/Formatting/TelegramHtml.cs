using System.Globalization;
using System.Text;

namespace ApprovalBot.Sandbox.Formatting;

/// <summary>
/// Parses Telegram's HTML parse mode into plain text and entities, refusing what Telegram refuses:
/// unsupported tags, unclosed or mismatched tags, and a bare '&lt;' or '&amp;' that is not part of a tag or entity.
/// Error texts follow Telegram's "can't parse entities: ..." with byte offsets into the UTF-8 input.
/// </summary>
internal static class TelegramHtml
{
    public static FormattedText Parse(string html)
    {
        var text = new StringBuilder(html.Length);
        var entities = new List<TextEntity>();
        var open = new Stack<OpenTag>();
        var i = 0;
        while (i < html.Length)
        {
            var c = html[i];
            if (c == '<')
            {
                if (i + 1 < html.Length && html[i + 1] == '/')
                {
                    i = CloseTag(html, i, text, open, entities);
                }
                else
                {
                    i = OpenTagAt(html, i, text.Length, open);
                }
            }
            else if (c == '&')
            {
                i = DecodeEntity(html, i, text);
            }
            else
            {
                text.Append(c);
                i++;
            }
        }

        if (open.Count > 0)
        {
            throw new HtmlParseException($"Can't find end tag corresponding to start tag \"{open.Peek().Name}\"");
        }

        entities.Sort((a, b) => a.Offset != b.Offset ? a.Offset.CompareTo(b.Offset) : b.Length.CompareTo(a.Length));
        return new FormattedText(text.ToString(), entities);
    }

    private static int OpenTagAt(string html, int start, int textOffset, Stack<OpenTag> open)
    {
        var i = start + 1;
        var nameStart = i;
        while (i < html.Length && !char.IsWhiteSpace(html[i]) && html[i] != '>' && html[i] != '/')
        {
            i++;
        }

        if (i >= html.Length)
        {
            throw new HtmlParseException($"Unclosed start tag at byte offset {ByteOffset(html, start)}");
        }

        var name = html[nameStart..i].ToLowerInvariant();
        if (!IsSupported(name))
        {
            throw new HtmlParseException($"Unsupported start tag \"{name}\" at byte offset {ByteOffset(html, start)}");
        }

        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        while (true)
        {
            while (i < html.Length && char.IsWhiteSpace(html[i]))
            {
                i++;
            }

            if (i >= html.Length)
            {
                throw new HtmlParseException($"Unclosed start tag at byte offset {ByteOffset(html, start)}");
            }

            if (html[i] == '>')
            {
                i++;
                break;
            }

            i = ReadAttribute(html, i, start, attributes);
        }

        open.Push(new OpenTag(name, textOffset, EntityFor(name, attributes, open, html, start)));
        return i;
    }

    private static int ReadAttribute(string html, int i, int tagStart, Dictionary<string, string> attributes)
    {
        var nameStart = i;
        while (i < html.Length && !char.IsWhiteSpace(html[i]) && html[i] != '=' && html[i] != '>')
        {
            i++;
        }

        var name = html[nameStart..i].ToLowerInvariant();
        if (name.Length == 0 || i >= html.Length)
        {
            throw new HtmlParseException($"Unclosed start tag at byte offset {ByteOffset(html, tagStart)}");
        }

        if (html[i] != '=')
        {
            attributes[name] = "";
            return i;
        }

        i++;
        if (i < html.Length && html[i] is '"' or '\'')
        {
            var quote = html[i];
            var end = html.IndexOf(quote, i + 1);
            if (end < 0)
            {
                throw new HtmlParseException($"Unclosed start tag at byte offset {ByteOffset(html, tagStart)}");
            }

            var value = new StringBuilder();
            var raw = html[(i + 1)..end];
            for (var j = 0; j < raw.Length;)
            {
                j = raw[j] == '&' ? DecodeEntity(raw, j, value) : Append(value, raw[j], j);
            }

            attributes[name] = value.ToString();
            return end + 1;
        }

        var valueStart = i;
        while (i < html.Length && !char.IsWhiteSpace(html[i]) && html[i] != '>')
        {
            i++;
        }

        attributes[name] = html[valueStart..i];
        return i;
    }

    private static int Append(StringBuilder builder, char c, int index)
    {
        builder.Append(c);
        return index + 1;
    }

    private static int CloseTag(string html, int start, StringBuilder text, Stack<OpenTag> open, List<TextEntity> entities)
    {
        var end = html.IndexOf('>', start);
        if (end < 0)
        {
            throw new HtmlParseException($"Unclosed end tag at byte offset {ByteOffset(html, start)}");
        }

        var name = html[(start + 2)..end].Trim().ToLowerInvariant();
        if (open.Count == 0)
        {
            throw new HtmlParseException($"Unexpected end tag at byte offset {ByteOffset(html, start)}");
        }

        var tag = open.Pop();
        if (tag.Name != name)
        {
            throw new HtmlParseException(
                $"Unmatched end tag at byte offset {ByteOffset(html, start)}, expected \"</{tag.Name}>\", found \"</{name}>\"");
        }

        var length = text.Length - tag.TextOffset;
        if (tag.Entity is { } entity && length > 0)
        {
            entities.Add(entity with { Offset = tag.TextOffset, Length = length });
        }

        return end + 1;
    }

    private static TextEntity? EntityFor(string name, Dictionary<string, string> attributes, Stack<OpenTag> open, string html, int start) => name switch
    {
        "b" or "strong" => new TextEntity("bold", 0, 0),
        "i" or "em" => new TextEntity("italic", 0, 0),
        "u" or "ins" => new TextEntity("underline", 0, 0),
        "s" or "strike" or "del" => new TextEntity("strikethrough", 0, 0),
        "tg-spoiler" => new TextEntity("spoiler", 0, 0),
        "span" when attributes.GetValueOrDefault("class") == "tg-spoiler" => new TextEntity("spoiler", 0, 0),
        "span" => throw new HtmlParseException($"Tag \"span\" must have class \"tg-spoiler\" at byte offset {ByteOffset(html, start)}"),
        "a" when attributes.TryGetValue("href", out var href) && href.Length > 0 => new TextEntity("text_link", 0, 0, Url: href),
        "a" => null,
        "code" when open.TryPeek(out var parent) && parent.Name == "pre" && attributes.GetValueOrDefault("class") is { } language
            && language.StartsWith("language-", StringComparison.Ordinal) => new TextEntity("pre", 0, 0, Language: language["language-".Length..]),
        "code" => new TextEntity("code", 0, 0),
        "pre" => new TextEntity("pre", 0, 0),
        "blockquote" => new TextEntity(attributes.ContainsKey("expandable") ? "expandable_blockquote" : "blockquote", 0, 0),
        "tg-emoji" when attributes.TryGetValue("emoji-id", out var emoji) && emoji.Length > 0 => new TextEntity("custom_emoji", 0, 0, CustomEmojiId: emoji),
        "tg-emoji" => throw new HtmlParseException($"Tag \"tg-emoji\" must have attribute \"emoji-id\" at byte offset {ByteOffset(html, start)}"),
        _ => null,
    };

    private static bool IsSupported(string name) => name is "b" or "strong" or "i" or "em" or "u" or "ins" or "s" or "strike"
        or "del" or "span" or "tg-spoiler" or "a" or "code" or "pre" or "blockquote" or "tg-emoji";

    private static int DecodeEntity(string html, int start, StringBuilder text)
    {
        var end = html.IndexOf(';', start);
        var name = end > start ? html[(start + 1)..end] : "";
        var decoded = name switch
        {
            "lt" => "<",
            "gt" => ">",
            "amp" => "&",
            "quot" => "\"",
            _ when name.StartsWith("#x", StringComparison.OrdinalIgnoreCase) => CodePoint(name[2..], NumberStyles.AllowHexSpecifier),
            _ when name.StartsWith('#') => CodePoint(name[1..], NumberStyles.None),
            _ => null,
        };

        if (decoded is null)
        {
            throw new HtmlParseException($"Character '&' at byte offset {ByteOffset(html, start)} is not a valid entity; escape it as &amp;");
        }

        text.Append(decoded);
        return end + 1;
    }

    private static string? CodePoint(string digits, NumberStyles style)
    {
        if (digits.Length is 0 or > 8 || !int.TryParse(digits, style, CultureInfo.InvariantCulture, out var value))
        {
            return null;
        }

        return value is > 0 and <= 0x10FFFF and not (>= 0xD800 and <= 0xDFFF) ? char.ConvertFromUtf32(value) : null;
    }

    private static int ByteOffset(string html, int index) => Encoding.UTF8.GetByteCount(html.AsSpan(0, index));

    private sealed record OpenTag(string Name, int TextOffset, TextEntity? Entity);
}
