using System.Buffers;
using System.Globalization;
using System.Text;

namespace ApprovalBot.Pipe.Operations;

/// <summary>
/// What a draft's <c>text</c> and <c>agent</c> must be so that the approver sees what is executed: some visible
/// character (a text of zero-width or format characters is a blank card), and no control character a card cannot
/// show (a NUL-laden text is most often UTF-16 read as UTF-8; U+0080..U+009F are what Windows-1252 quotes become when
/// read as Latin-1, and U+009B is an 8-bit terminal escape). An <c>agent</c> is a one-line name on the card: it takes no
/// control character at all, tab and line breaks included, and no bidirectional embedding, override or isolate, which
/// could make the card show the name's neighbours in another order.
/// </summary>
internal static class DraftTextRules
{
    public const string Empty = "must not be empty";

    /// <summary>Every control character (Cc: C0, DEL and C1) but tab, LF and CR: no text a person writes holds them.</summary>
    private static readonly SearchValues<char> TextControls = SearchValues.Create(
        string.Concat(Enumerable.Range(0, 0x20).Concat(Enumerable.Range(0x7f, 0x21)).Where(c => c is not ('\t' or '\n' or '\r')).Select(c => (char)c)));

    /// <summary>Every control character (Cc: C0, DEL and C1).</summary>
    private static readonly SearchValues<char> NameControls = SearchValues.Create(
        string.Concat(Enumerable.Range(0, 0x20).Concat(Enumerable.Range(0x7f, 0x21)).Select(c => (char)c)));

    /// <summary>The line and paragraph separators, which are no control characters but which Telegram shows as a line break.</summary>
    private static readonly SearchValues<char> NameLineBreaks = SearchValues.Create("\u2028\u2029");

    /// <summary>The bidirectional embeddings, overrides and isolates (U+202A..U+202E, U+2066..U+2069), refused in a name.</summary>
    private static readonly SearchValues<char> NameBidiControls = SearchValues.Create("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069");

    /// <summary>Why <paramref name="value"/> is refused as a text (or, with <paramref name="name"/>, as an agent); null if it is not.</summary>
    public static string? Problem(string value, bool name) => Problem(value, name, "name");

    /// <summary>
    /// Why <paramref name="value"/> is refused as a one-line free text shown on the card, such as a cancel's reason: the
    /// rules of a name, its messages naming <paramref name="noun"/>; null if it is not refused.
    /// </summary>
    public static string? LineProblem(string value, string noun) => Problem(value, name: true, noun);

    private static string? Problem(string value, bool name, string noun)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            // Kept as it was before invisible text was refused too: clients may match it.
            return Empty;
        }
        var at = value.AsSpan().IndexOfAny(name ? NameControls : TextControls);
        if (at >= 0)
        {
            var c = value[at];
            var where = $"the control character {Code(c)}{(c == '\0' ? " (NUL)" : "")} at index {CodePointIndex(value, at).ToString(CultureInfo.InvariantCulture)}";
            return name ? $"contains {where}; {Article(noun)} {noun} takes no control characters"
                : c == '\0' ? $"contains {where}: is it UTF-16 text read as UTF-8?"
                : $"contains {where}; a text takes only tab, line feed and carriage return";
        }
        if (name && value.AsSpan().IndexOfAny(NameLineBreaks) is var lineBreak and >= 0)
        {
            var what = value[lineBreak] == '\u2028' ? "line separator" : "paragraph separator";
            return $"contains the {what} {Code(value[lineBreak])} at index {CodePointIndex(value, lineBreak).ToString(CultureInfo.InvariantCulture)}; " +
                $"{Article(noun)} {noun} takes no line breaks";
        }
        if (name && value.AsSpan().IndexOfAny(NameBidiControls) is var bidi and >= 0)
        {
            return $"contains the bidirectional control {Code(value[bidi])} at index {CodePointIndex(value, bidi).ToString(CultureInfo.InvariantCulture)}; " +
                $"{Article(noun)} {noun} takes none (it could reorder what the card shows)";
        }
        var index = 0;
        (Rune Rune, int Index)? firstInvisible = null;
        foreach (var rune in value.EnumerateRunes())
        {
            if (!IsInvisible(rune)) return null;
            if (firstInvisible is null && !Rune.IsWhiteSpace(rune)) firstInvisible = (rune, index);
            index++;
        }
        var (r, i) = firstInvisible!.Value;
        return $"has no visible character: only whitespace and invisible characters such as {Code(r.Value)} at index {i.ToString(CultureInfo.InvariantCulture)}";
    }

    /// <summary>
    /// Whitespace, control (Cc) and format (Cf) characters, Unicode's other default-ignorable code points (variation
    /// selectors, Hangul fillers, the combining grapheme joiner, tags) and the blank Braille pattern: a text made only of
    /// them shows nothing.
    /// </summary>
    public static bool IsInvisible(Rune rune)
    {
        if (Rune.IsWhiteSpace(rune) || Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format)
        {
            return true;
        }
        return rune.Value switch
        {
            0x034F or 0x115F or 0x1160 or 0x17B4 or 0x17B5 or (>= 0x180B and <= 0x180F) or 0x2065 or 0x2800 or 0x3164 => true,
            (>= 0xFE00 and <= 0xFE0F) or 0xFFA0 or (>= 0xFFF0 and <= 0xFFF8) or (>= 0xE0000 and <= 0xE0FFF) => true,
            _ => false,
        };
    }

    private static string Article(string noun) => noun.Length > 0 && "aeiou".Contains(noun[0], StringComparison.Ordinal) ? "an" : "a";

    private static string Code(int value) => "U+" + value.ToString(value > 0xFFFF ? "X5" : "X4", CultureInfo.InvariantCulture);

    /// <summary>The index in Unicode code points (as MaxLength counts) of the UTF-16 position <paramref name="at"/>.</summary>
    private static int CodePointIndex(string value, int at)
    {
        var index = at;
        foreach (var c in value.AsSpan(0, at))
        {
            if (char.IsLowSurrogate(c)) index--;
        }
        return index;
    }
}
