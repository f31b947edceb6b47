using System.Text;
using ApprovalBot.Pipe.Operations;

namespace ApprovalBot.Tests.Pipe;

public sealed class DraftTextRulesTests
{
    public static TheoryData<string, bool, string> Refused => new()
    {
        // value, as an agent (a name), message
        { "", false, "must not be empty" },
        { " \t\r\n\u00a0\u3000", false, "must not be empty" },
        { "\u200b", false, "has no visible character: only whitespace and invisible characters such as U+200B at index 0" },
        { " \ufeff\u2060\u200d ", false, "has no visible character: only whitespace and invisible characters such as U+FEFF at index 1" },
        { "\u00ad\u034f\ufe0f\u3164\u2800", false, "has no visible character: only whitespace and invisible characters such as U+00AD at index 0" },
        // A tag character (beyond U+FFFF): the index counts code points, as MaxLength does.
        { "\U000E0020\U000E0041", false, "has no visible character: only whitespace and invisible characters such as U+E0020 at index 0" },
        { "\u0085\u009f", false, "contains the control character U+0085 at index 0; a text takes only tab, line feed and carriage return" },
        // "hi" in UTF-16LE, read as UTF-8.
        { "h\0i\0", false, "contains the control character U+0000 (NUL) at index 1: is it UTF-16 text read as UTF-8?" },
        { "\0", false, "contains the control character U+0000 (NUL) at index 0: is it UTF-16 text read as UTF-8?" },
        { "😀😀\0", false, "contains the control character U+0000 (NUL) at index 2: is it UTF-16 text read as UTF-8?" },
        { "red \u001b[31m", false, "contains the control character U+001B at index 4; a text takes only tab, line feed and carriage return" },
        { "a\u007f", false, "contains the control character U+007F at index 1; a text takes only tab, line feed and carriage return" },
        // C1: Windows-1252 curly quotes read as Latin-1, and the 8-bit form of ESC [.
        { "\u0093quoted\u0094", false, "contains the control character U+0093 at index 0; a text takes only tab, line feed and carriage return" },
        { "red \u009b31m", false, "contains the control character U+009B at index 4; a text takes only tab, line feed and carriage return" },
        { "form\ffeed", false, "contains the control character U+000C at index 4; a text takes only tab, line feed and carriage return" },
        { "\v", false, "must not be empty" },
        { "", true, "must not be empty" },
        { "\u200b\u200c", true, "has no visible character: only whitespace and invisible characters such as U+200B at index 0" },
        { "engager\nApproved by boss", true, "contains the control character U+000A at index 7; a name takes no control characters" },
        { "a\tb", true, "contains the control character U+0009 at index 1; a name takes no control characters" },
        { "bot\u0085", true, "contains the control character U+0085 at index 3; a name takes no control characters" },
        // Not control characters, but Telegram shows them as line breaks: a second line on the card, as "\n" would make.
        { "bot\u2028Approved by boss", true, "contains the line separator U+2028 at index 3; a name takes no line breaks" },
        { "😀bot\u2029", true, "contains the paragraph separator U+2029 at index 4; a name takes no line breaks" },
        { "bot \u202eevil", true, "contains the bidirectional control U+202E at index 4; a name takes none (it could reorder what the card shows)" },
        { "😀\u2066bot\u2069", true, "contains the bidirectional control U+2066 at index 1; a name takes none (it could reorder what the card shows)" },
        { "\0bot", true, "contains the control character U+0000 (NUL) at index 0; a name takes no control characters" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void Problem_InvisibleOrControlCharacters_SaysWhichAndWhere(string value, bool name, string message)
    {
        Assert.Equal(message, DraftTextRules.Problem(value, name));
    }

    [Theory]
    [InlineData("plain", false)]
    [InlineData("line one\r\n\tline two\n", false)]
    [InlineData(" x ", false)]
    [InlineData("👩‍💻 shipped\u200b it", false)]
    [InlineData("flag 🏴\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F", false)]
    [InlineData("\u0301", false)]
    [InlineData("\ue000", false)]
    [InlineData("\u202bעברית\u202c and English", false)]
    [InlineData("outbound-engager", true)]
    [InlineData("👩‍💻 engager", true)]
    [InlineData("bot \u200e", true)]
    public void Problem_SomethingVisibleAndNoRefusedControl_None(string value, bool name)
    {
        Assert.Null(DraftTextRules.Problem(value, name));
    }

    /// <summary>A one-line free text (a cancel's reason) takes a name's rules, and the messages call it what it is.</summary>
    [Theory]
    [InlineData("gone\nApproved by boss", "contains the control character U+000A at index 4; a reason takes no control characters")]
    [InlineData("a\u202eb", "contains the bidirectional control U+202E at index 1; a reason takes none (it could reorder what the card shows)")]
    [InlineData("gone\u2028Approved by boss", "contains the line separator U+2028 at index 4; a reason takes no line breaks")]
    [InlineData("\u200b", "has no visible character: only whitespace and invisible characters such as U+200B at index 0")]
    [InlineData(" ", "must not be empty")]
    public void LineProblem_RefusedAsANameIsNamedByItsNoun(string value, string message)
    {
        Assert.Equal(message, DraftTextRules.LineProblem(value, "reason"));
        Assert.NotNull(DraftTextRules.Problem(value, name: true));
    }

    [Theory]
    [InlineData("the thread was deleted")]
    [InlineData("\u05d4\u05e9\u05e8\u05e9\u05d5\u05e8 \u05e0\u05de\u05d7\u05e7")]
    [InlineData("👩‍💻 superseded")]
    public void LineProblem_OneVisibleLine_None(string value) => Assert.Null(DraftTextRules.LineProblem(value, "reason"));

    [Theory]
    [InlineData(0x0000)]
    [InlineData(0x0020)]
    [InlineData(0x00AD)]
    [InlineData(0x180E)]
    [InlineData(0x200B)]
    [InlineData(0x2065)]
    [InlineData(0xFEFF)]
    [InlineData(0xFFF0)]
    [InlineData(0x1D173)]
    [InlineData(0xE0001)]
    [InlineData(0xE01EF)]
    public void IsInvisible_DefaultIgnorableWhitespaceAndControls_True(int codePoint)
    {
        Assert.True(DraftTextRules.IsInvisible(new Rune(codePoint)));
    }

    [Theory]
    [InlineData('a')]
    [InlineData('_')]
    [InlineData(0x0301)]
    [InlineData(0x1F600)]
    [InlineData(0xE000)]
    [InlineData(0x3042)]
    public void IsInvisible_VisibleCharacters_False(int codePoint)
    {
        Assert.False(DraftTextRules.IsInvisible(new Rune(codePoint)));
    }
}
