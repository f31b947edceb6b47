namespace ApprovalBot.Sandbox.Formatting;

/// <summary>Turns a text or caption parameter into what Telegram stores: parsed, trimmed, length-checked.</summary>
internal static class MessageTextParser
{
    public const int MaxTextLength = 4096;
    public const int MaxCaptionLength = 1024;

    public static FormattedText ParseText(string text, string? parseMode)
    {
        var parsed = Parse(text, parseMode);
        if (parsed.Text.Length == 0)
        {
            throw BotApiException.BadRequest("message text is empty");
        }

        return parsed.Text.Length > MaxTextLength ? throw BotApiException.BadRequest("message is too long") : parsed;
    }

    public static FormattedText? ParseCaption(string? caption, string? parseMode)
    {
        if (caption is null)
        {
            return null;
        }

        var parsed = Parse(caption, parseMode);
        return parsed.Text.Length > MaxCaptionLength ? throw BotApiException.BadRequest("message caption is too long") : parsed;
    }

    private static FormattedText Parse(string text, string? parseMode)
    {
        FormattedText parsed;
        switch (parseMode?.ToUpperInvariant())
        {
            case null or "":
                parsed = new FormattedText(text, []);
                break;
            case "HTML":
                try
                {
                    parsed = TelegramHtml.Parse(text);
                }
                catch (HtmlParseException e)
                {
                    throw BotApiException.BadRequest("can't parse entities: " + e.Message);
                }

                break;
            case "MARKDOWN" or "MARKDOWNV2":
                throw BotApiException.BadRequest($"parse_mode {parseMode} is not supported by the sandbox; use HTML");
            default:
                throw BotApiException.BadRequest("unsupported parse_mode");
        }

        return Trim(parsed);
    }

    /// <summary>Telegram strips surrounding whitespace before counting and storing, so lengths are checked after it.</summary>
    private static FormattedText Trim(FormattedText parsed)
    {
        var text = parsed.Text;
        var start = 0;
        while (start < text.Length && char.IsWhiteSpace(text[start]))
        {
            start++;
        }

        var end = text.Length;
        while (end > start && char.IsWhiteSpace(text[end - 1]))
        {
            end--;
        }

        if (start == 0 && end == text.Length)
        {
            return parsed;
        }

        var entities = parsed.Entities
            .Select(e =>
            {
                var from = Math.Clamp(e.Offset - start, 0, end - start);
                var to = Math.Clamp(e.Offset + e.Length - start, 0, end - start);
                return e with { Offset = from, Length = to - from };
            })
            .Where(e => e.Length > 0)
            .ToArray();
        return new FormattedText(text[start..end], entities);
    }
}
