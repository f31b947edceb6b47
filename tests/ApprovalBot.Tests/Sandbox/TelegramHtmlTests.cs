using ApprovalBot.Sandbox.Formatting;

namespace ApprovalBot.Tests.Sandbox;

public sealed class TelegramHtmlTests
{
    [Fact]
    public void Parse_NestedTags_EntitiesInUtf16Offsets()
    {
        var parsed = TelegramHtml.Parse("😀 <b>bold <i>both</i></b>");

        Assert.Equal("😀 bold both", parsed.Text);
        Assert.Equal(
            [new TextEntity("bold", 3, 9), new TextEntity("italic", 8, 4)],
            parsed.Entities);
    }

    [Fact]
    public void Parse_LinkAndPreWithLanguage_CarryTheirAttributes()
    {
        var parsed = TelegramHtml.Parse("<a href='https://x.org/?q=1&amp;r=2'>x</a><pre><code class=\"language-python\">p</code></pre>");

        Assert.Contains(new TextEntity("text_link", 0, 1, Url: "https://x.org/?q=1&r=2"), parsed.Entities);
        Assert.Contains(new TextEntity("pre", 1, 1, Language: "python"), parsed.Entities);
    }

    [Fact]
    public void Parse_TagNamesInUpperCase_AreAccepted()
    {
        var parsed = TelegramHtml.Parse("<B>x</B>");

        Assert.Equal(new TextEntity("bold", 0, 1), Assert.Single(parsed.Entities));
    }

    [Fact]
    public void Parse_EmptyTag_ProducesNoEntity()
    {
        var parsed = TelegramHtml.Parse("a<b></b>c");

        Assert.Equal("ac", parsed.Text);
        Assert.Empty(parsed.Entities);
    }

    [Theory]
    [InlineData("&#0;")]
    [InlineData("&#xD800;")]
    [InlineData("&#x110000;")]
    [InlineData("&amp")]
    public void Parse_InvalidNumericOrUnterminatedEntity_Throws(string html)
    {
        Assert.Throws<HtmlParseException>(() => TelegramHtml.Parse(html));
    }

    [Fact]
    public void Parse_ErrorOffset_IsInUtf8Bytes()
    {
        var error = Assert.Throws<HtmlParseException>(() => TelegramHtml.Parse("ééé<x>"));

        Assert.Equal("Unsupported start tag \"x\" at byte offset 6", error.Message);
    }
}
