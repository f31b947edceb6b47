using System.Text;
using System.Text.Encodings.Web;

namespace ApprovalBot.Client;

/// <summary>
/// The escaping of protocol requests: only what a JSON Lines request needs. Quote, backslash and the control
/// characters (U+0000–U+001F, U+007F–U+009F) are escaped as JSON requires, and so are the line and paragraph
/// separators U+2028/U+2029, so no line break of any convention appears raw in a request line. Everything else
/// (accents, Cyrillic, CJK, emoji) goes as UTF-8: the service measures text and context as received, and
/// System.Text.Json's default encoder would send "é" as 6 bytes (<c>\u00E9</c>) instead of 2 and an emoji as 12
/// instead of 4. Nothing is escaped for HTML: a request line is never embedded in a page.
/// </summary>
/// <remarks>
/// The rule is <see cref="JsonLinesEscaping"/>, which approvalctl's submit fast path also follows by hand
/// (<c>SubmitFastPath.AppendString</c>). An unpaired surrogate (a string that is not valid UTF-16) goes as U+FFFD.
/// </remarks>
public sealed class JsonLinesEncoder : JavaScriptEncoder
{
    public static JsonLinesEncoder Instance { get; } = new();

    private JsonLinesEncoder()
    {
    }

    public override int MaxOutputCharactersPerInputCharacter => 6;

    public override bool WillEncode(int unicodeScalar) => JsonLinesEscaping.MustEscape(unicodeScalar);

    public override unsafe int FindFirstCharacterToEncode(char* text, int textLength)
    {
        var span = new ReadOnlySpan<char>(text, textLength);
        for (var i = 0; i < span.Length; i++)
        {
            var ch = span[i];
            if (char.IsHighSurrogate(ch) && i + 1 < span.Length && char.IsLowSurrogate(span[i + 1]))
            {
                i++;
                continue;
            }
            // An unpaired surrogate is handed to the encoder too, which puts U+FFFD in its place (UTF-8 cannot carry it).
            if (JsonLinesEscaping.MustEscape(ch) || char.IsSurrogate(ch))
            {
                return i;
            }
        }
        return -1;
    }

    public override int FindFirstCharacterToEncodeUtf8(ReadOnlySpan<byte> utf8Text)
    {
        var at = 0;
        while (at < utf8Text.Length)
        {
            var b = utf8Text[at];
            if (b < 0x80)
            {
                if (JsonLinesEscaping.MustEscape(b))
                {
                    return at;
                }
                at++;
                continue;
            }
            if (Rune.DecodeFromUtf8(utf8Text[at..], out var rune, out var consumed) != System.Buffers.OperationStatus.Done || JsonLinesEscaping.MustEscape(rune.Value))
            {
                return at;
            }
            at += consumed;
        }
        return -1;
    }

    public override unsafe bool TryEncodeUnicodeScalar(int unicodeScalar, char* buffer, int bufferLength, out int numberOfCharactersWritten)
    {
        // Called for the characters of MustEscape only (an unpaired surrogate becomes a raw U+FFFD before this).
        var escape = unicodeScalar <= char.MaxValue ? JsonLinesEscaping.Escape((char)unicodeScalar) : new Rune(unicodeScalar).ToString();
        if (escape.Length > bufferLength)
        {
            numberOfCharactersWritten = 0;
            return false;
        }
        escape.AsSpan().CopyTo(new Span<char>(buffer, bufferLength));
        numberOfCharactersWritten = escape.Length;
        return true;
    }
}
