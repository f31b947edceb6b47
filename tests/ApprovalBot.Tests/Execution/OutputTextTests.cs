using ApprovalBot.Execution;

namespace ApprovalBot.Tests.Execution;

public sealed class OutputTextTests
{
    /// <summary>
    /// A control string left open (an OSC title without its BEL) ends at the line's end, whichever line break ends it:
    /// it stopped only at CR or LF, and took the next line's error with it after a NEL, VT, FF or U+2028. ESC E is NEL's
    /// 7-bit form, a line break to a terminal, and was dropped, running two lines into one.
    /// </summary>
    [Theory]
    [InlineData("a\u001b]0;t\u0085fatal: x\nb")]
    [InlineData("a\u001b]0;t\vfatal: x\nb")]
    [InlineData("a\u001b]0;t\ffatal: x\nb")]
    [InlineData("a\u001b]0;t\u2028fatal: x\nb")]
    [InlineData("a\u001b]0;t\u2029fatal: x\nb")]
    [InlineData("a\u001bEfatal: x\nb")]
    [InlineData("a\u001bPq\u2028fatal: x\nb")]
    public void OneLine_LineBreakAfterAnOpenControlStringOrAsEscE_KeepsTheNextLine(string text) =>
        Assert.Equal("a | fatal: x | b", OutputText.OneLine(text));

    /// <summary>The tail and its cut's marker together stay within the bound the README gives (400 for stderr).</summary>
    [Theory]
    [InlineData(399, false)]
    [InlineData(400, true)]
    [InlineData(398, true)]
    [InlineData(1000, false)]
    public void Tail_LinesLongerThanTheBound_WithTheMarkerWithinTheBound(int lastLine, bool cutBefore)
    {
        var text = "first line\n" + new string('e', lastLine - 5) + "fatal";

        var tail = OutputText.Tail(text, 400, cutBefore)!;

        Assert.True(tail.Length <= 400, $"{tail.Length} characters");
        Assert.StartsWith(OutputText.Cut, tail, StringComparison.Ordinal);
        Assert.EndsWith("fatal", tail, StringComparison.Ordinal);
    }

    [Fact]
    public void Tail_EverythingFitsAndNothingCutBefore_NoMarker() =>
        Assert.Equal("one | two", OutputText.Tail("one\ntwo\n", 400));

    [Fact]
    public void Tail_LinesThatDoNotAllFit_TheLastOnesAfterTheMarker()
    {
        var text = string.Join("\n", Enumerable.Range(1, 100).Select(i => $"line {i:000}"));

        var tail = OutputText.Tail(text, 40)!;

        Assert.Equal("… line 098 | line 099 | line 100", tail);
    }
}
