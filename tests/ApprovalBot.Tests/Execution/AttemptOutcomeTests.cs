using ApprovalBot.Execution;

namespace ApprovalBot.Tests.Execution;

/// <summary>What of a route's output an attempt's outcome keeps: one line of plain text, bounded.</summary>
public sealed class AttemptOutcomeTests
{
    /// <summary>
    /// A webhook's body (its result, or the detail of an HTTP error) and a command's stdout give their first line with no
    /// escape sequence, control or bidirectional control left in it. Before, only CR and LF ended the line and everything
    /// else went through to the card and the log.
    /// </summary>
    [Theory]
    [InlineData("\u001b[32mhttps://example.test/1\u001b[0m\nsecond", "https://example.test/1")]
    [InlineData("posted \u202eexe.txt\u202c ok", "posted exe.txt ok")]
    [InlineData("id\u0000 7\u0007", "id\uFFFD 7\uFFFD")]
    [InlineData("title\u001b]0;pwned\u0007 set\r\nmore", "title set")]
    [InlineData("one\u2028two", "one")]
    [InlineData("one\u0085two", "one")]
    [InlineData("\ttabbed\tvalue ", "tabbed value")]
    [InlineData("\u009b31mcsi\u009b0m", "csi")]
    [InlineData("\u001b[2J\n", null)]
    public void FirstLine_OutputWithControls_PlainTextOnly(string body, string? expected) =>
        Assert.Equal(expected, AttemptOutcome.FirstLine(body));

    /// <summary>An error given in several lines (an exception's message, a sink's reason phrase) is stored as one.</summary>
    [Fact]
    public void Failure_ErrorOfSeveralLinesWithEscapes_StoredAsOnePlainLine()
    {
        var outcome = AttemptOutcome.Failure("network error: reset\n\u001b[1mat the proxy\u001b[0m\r\n", retryable: true);

        Assert.Equal("network error: reset | at the proxy", outcome.Error);
    }

    /// <summary>A cut never leaves half of a surrogate pair, which SQLite would store as a broken character.</summary>
    [Fact]
    public void Success_ResultCutInsideASurrogatePair_CutBeforeIt()
    {
        var result = new string('a', AttemptOutcome.MaxResultChars - 1) + "😀tail";

        Assert.Equal(new string('a', AttemptOutcome.MaxResultChars - 1) + "…", AttemptOutcome.Success(result).Result);
    }
}
