using ApprovalBot.Telegram.Cards;

namespace ApprovalBot.Tests.Telegram;

public sealed class HtmlTextTests
{
    [Fact]
    public void ShortenMiddle_TextThatFits_Unchanged() =>
        Assert.Equal("exit code 2: fatal", HtmlText.ShortenMiddle("exit code 2: fatal", 18));

    [Fact]
    public void ShortenMiddle_LongText_KeepsItsStartAndItsEndWithinTheBound()
    {
        var text = "exit code 2: " + new string('n', 500) + " | fatal: the sink refused the token";

        var shortened = HtmlText.ShortenMiddle(text, 100);

        Assert.Equal(100, shortened.Length);
        Assert.StartsWith("exit code 2: ", shortened, StringComparison.Ordinal);
        Assert.Contains("… ", shortened, StringComparison.Ordinal);
        Assert.EndsWith(" | fatal: the sink refused the token", shortened, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(59)]
    [InlineData(60)]
    [InlineData(61)]
    public void ShortenMiddle_CutAtASurrogatePair_NeverSplitsIt(int max)
    {
        var text = string.Concat(Enumerable.Repeat("😀", 100));

        var shortened = HtmlText.ShortenMiddle(text, max);

        Assert.True(shortened.Length <= max, shortened);
        for (var i = 0; i < shortened.Length; i++)
        {
            Assert.False(char.IsHighSurrogate(shortened[i]) && (i + 1 == shortened.Length || !char.IsLowSurrogate(shortened[i + 1])), $"high surrogate alone at {i}");
            Assert.False(char.IsLowSurrogate(shortened[i]) && (i == 0 || !char.IsHighSurrogate(shortened[i - 1])), $"low surrogate alone at {i}");
        }
    }
}
