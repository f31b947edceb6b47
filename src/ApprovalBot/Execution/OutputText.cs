using System.Text;

namespace ApprovalBot.Execution;

/// <summary>
/// A route's own output (a command's stdout and stderr, a webhook's body) made fit to be stored as a draft's result or
/// error, shown on its card and in /stale, and written to the console log: one line of text, bounded. A program's
/// output is not the service's to trust: a terminal escape sequence (colours, a cleared screen, a retitled window), a
/// bidirectional override or a line break in it would garble the card or forge the log's next line. Escape sequences
/// are left out whole (a coloured "ERROR" stays "ERROR", not "[31mERROR"), bidirectional controls are left out, tabs
/// become spaces, any other control character (NUL, BEL, C1) and a broken surrogate become U+FFFD, which shows that
/// something was there, and line breaks (CR, LF, VT, FF, NEL, U+2028, U+2029) end a line.
/// </summary>
internal static class OutputText
{
    /// <summary>Between the lines of one text folded into one.</summary>
    public const string LineJoint = " | ";

    /// <summary>Where a text was cut: at the start of a tail, at the end of a head.</summary>
    public const string Cut = "…";

    /// <summary>The first line, cleaned; null when it is blank.</summary>
    public static string? FirstLine(string? text)
    {
        if (string.IsNullOrEmpty(text)) return null;
        var line = Lines(text, firstOnly: true)[0].Trim();
        return line.Length == 0 ? null : line;
    }

    /// <summary>Every line that is not blank, cleaned and folded into one; null when there is none.</summary>
    public static string? OneLine(string? text)
    {
        if (string.IsNullOrEmpty(text)) return null;
        var lines = NonBlank(text);
        return lines.Count == 0 ? null : string.Join(LineJoint, lines);
    }

    /// <summary>
    /// The last lines that are not blank, cleaned and folded into one, as many as fit in <paramref name="max"/> characters:
    /// a failing program says what went wrong last. Starts with <see cref="Cut"/> when anything before them was left out,
    /// here or already (<paramref name="cutBefore"/>: a stream kept by its end); null when there is no line.
    /// </summary>
    public static string? Tail(string? text, int max, bool cutBefore = false)
    {
        if (string.IsNullOrEmpty(text)) return null;
        var lines = NonBlank(text);
        if (lines.Count == 0) return null;
        var whole = string.Join(LineJoint, lines);
        if (!cutBefore && whole.Length <= max)
        {
            return whole;
        }
        // Room for the cut's marker, so that the tail with it stays within max.
        var budget = max - Cut.Length - 1;
        var kept = new List<string>();
        var length = 0;
        for (var i = lines.Count - 1; i >= 0; i--)
        {
            var add = lines[i].Length + (kept.Count == 0 ? 0 : LineJoint.Length);
            if (length + add > budget)
            {
                break;
            }
            kept.Insert(0, lines[i]);
            length += add;
        }
        if (kept.Count == 0)
        {
            // One last line longer than the whole bound: its end, which is where the error is more often than not.
            var last = lines[^1];
            if (last.Length <= max - Cut.Length) return Cut + last;
            var from = last.Length - (max - Cut.Length);
            if (char.IsLowSurrogate(last[from])) from++;
            return Cut + last[from..];
        }
        return Cut + " " + string.Join(LineJoint, kept);
    }

    /// <summary>At most <paramref name="max"/> characters and a <see cref="Cut"/>, never splitting a surrogate pair.</summary>
    public static string? Bound(string? value, int max)
    {
        if (value is null || value.Length <= max) return value;
        var end = max;
        if (char.IsHighSurrogate(value[end - 1])) end--;
        return value[..end] + Cut;
    }

    private static List<string> NonBlank(string text) => [.. Lines(text, firstOnly: false).Select(l => l.Trim()).Where(l => l.Length > 0)];

    private static List<string> Lines(string text, bool firstOnly)
    {
        var lines = new List<string>();
        var line = new StringBuilder();
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            // ESC E is NEL in its 7-bit form: a terminal starts a new line there too.
            if (IsLineBreak(c) || (c == '\u001b' && i + 1 < text.Length && text[i + 1] == 'E' && ++i > 0))
            {
                lines.Add(line.ToString());
                line.Clear();
                if (firstOnly) return lines;
                continue;
            }
            switch (c)
            {
                case '\u001b':
                    i = AfterEscape(text, i);
                    break;
                case '\u009b':
                    i = AfterControlSequence(text, i + 1);
                    break;
                case '\u0090' or '\u0098' or '\u009d' or '\u009e' or '\u009f':
                    i = AfterControlString(text, i + 1);
                    break;
                case '\t':
                    line.Append(' ');
                    break;
                case '\u061c' or '\u200e' or '\u200f' or (>= '\u202a' and <= '\u202e') or (>= '\u2066' and <= '\u2069'):
                    break;
                case var _ when char.IsControl(c):
                    line.Append('\uFFFD');
                    break;
                case var _ when char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]):
                    line.Append(c).Append(text[++i]);
                    break;
                case var _ when char.IsSurrogate(c):
                    line.Append('\uFFFD');
                    break;
                default:
                    line.Append(c);
                    break;
            }
        }
        lines.Add(line.ToString());
        return lines;
    }

    private static bool IsLineBreak(char c) => c is '\n' or '\r' or '\v' or '\f' or '\u0085' or '\u2028' or '\u2029';

    /// <summary>
    /// The index of the last character of the escape sequence that starts at <paramref name="esc"/>: a control sequence
    /// (ESC [), a control string (ESC ] P X ^ _, up to BEL or ST), or ESC, its intermediates and its final character.
    /// </summary>
    private static int AfterEscape(string text, int esc)
    {
        var i = esc + 1;
        if (i >= text.Length) return esc;
        switch (text[i])
        {
            case '[':
                return AfterControlSequence(text, i + 1);
            case ']' or 'P' or 'X' or '^' or '_':
                return AfterControlString(text, i + 1);
        }
        while (i < text.Length && text[i] is >= ' ' and <= '/')
        {
            i++;
        }
        // A final character ends it; anything else (a line break, the end) is left for the caller.
        return i < text.Length && text[i] is >= '0' and <= '~' ? i : i - 1;
    }

    /// <summary>Past the parameters and intermediates (0x20..0x3F) of a control sequence to its final character (0x40..0x7E).</summary>
    private static int AfterControlSequence(string text, int from)
    {
        var i = from;
        while (i < text.Length && text[i] is >= ' ' and <= '?')
        {
            i++;
        }
        return i < text.Length && text[i] is >= '@' and <= '~' ? i : i - 1;
    }

    /// <summary>
    /// Past a control string to its terminator (BEL, ESC \ or ST); one left open ends at the line's end rather than taking
    /// the rest of the output with it.
    /// </summary>
    private static int AfterControlString(string text, int from)
    {
        for (var i = from; i < text.Length; i++)
        {
            switch (text[i])
            {
                case '\u0007' or '\u009c':
                    return i;
                case '\u001b' when i + 1 < text.Length && text[i + 1] == '\\':
                    return i + 1;
                case var c when IsLineBreak(c):
                    return i - 1;
            }
        }
        return text.Length - 1;
    }
}
