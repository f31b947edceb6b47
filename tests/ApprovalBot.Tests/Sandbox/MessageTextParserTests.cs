namespace ApprovalBot.Tests.Sandbox;

/// <summary>Text rules Telegram applies after entity parsing: length in UTF-16 units, emptiness, and HTML refusals.</summary>
public sealed class MessageTextParserTests : SandboxTestBase
{
    public static TheoryData<string, string> BadHtml => new()
    {
        { "<blink>x</blink>", "Bad Request: can't parse entities: Unsupported start tag \"blink\" at byte offset 0" },
        { "<b>x", "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\"" },
        { "<b><i>x</b></i>", "Bad Request: can't parse entities: Unmatched end tag at byte offset 7, expected \"</i>\", found \"</b>\"" },
        { "x</b>", "Bad Request: can't parse entities: Unexpected end tag at byte offset 1" },
        { "1 < 2", "Bad Request: can't parse entities: Unsupported start tag \"\" at byte offset 2" },
        { "a <b", "Bad Request: can't parse entities: Unclosed start tag at byte offset 2" },
        { "Tom & Jerry", "Bad Request: can't parse entities: Character '&' at byte offset 4 is not a valid entity; escape it as &amp;" },
        { "&nbsp;", "Bad Request: can't parse entities: Character '&' at byte offset 0 is not a valid entity; escape it as &amp;" },
        { "é & x", "Bad Request: can't parse entities: Character '&' at byte offset 3 is not a valid entity; escape it as &amp;" },
        { "<span>x</span>", "Bad Request: can't parse entities: Tag \"span\" must have class \"tg-spoiler\" at byte offset 0" },
        { "<tg-emoji>x</tg-emoji>", "Bad Request: can't parse entities: Tag \"tg-emoji\" must have attribute \"emoji-id\" at byte offset 0" },
    };

    [Theory]
    [MemberData(nameof(BadHtml))]
    public async Task ParseText_HtmlTelegramRejects_Answers400CantParseEntities(string text, string expected)
    {
        var reply = await CallAsync("sendMessage", new { chat_id = ChatId, text, parse_mode = "HTML" });

        Assert.Equal(400, reply.ErrorCode);
        Assert.Equal(expected, reply.Description);
    }

    [Theory]
    [InlineData("Tom &amp; Jerry &lt;3 &gt; &quot;q&quot; &#65;&#x42;", "Tom & Jerry <3 > \"q\" AB")]
    [InlineData("<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s><strike>k</strike><del>d</del>", "bsieunskd")]
    [InlineData("<span class=\"tg-spoiler\">x</span><tg-spoiler>y</tg-spoiler>", "xy")]
    [InlineData("<a href=\"https://example.org/?a=1&amp;b=2\">link</a>", "link")]
    [InlineData("<code>c</code><pre><code class=\"language-cs\">p</code></pre>", "cp")]
    [InlineData("<blockquote>q</blockquote><blockquote expandable>e</blockquote>", "qe")]
    [InlineData("<tg-emoji emoji-id=\"5368324170671202286\">👍</tg-emoji>", "👍")]
    [InlineData("a > b", "a > b")]
    public async Task ParseText_HtmlTelegramAccepts_StoresParsedText(string text, string expected)
    {
        var reply = await CallAsync("sendMessage", new { chat_id = ChatId, text, parse_mode = "HTML" });

        Assert.True(reply.Ok, reply.ToString());
        Assert.Equal(expected, Control.GetMessages().Single().Text);
        Assert.Equal(text, Control.GetMessages().Single().SourceText);
    }

    [Fact]
    public async Task ParseText_4097CharactersAfterParsing_AnswersMessageIsTooLong()
    {
        var reply = await CallAsync("sendMessage", new { chat_id = ChatId, text = new string('x', 4097) });

        Assert.Equal("Bad Request: message is too long", reply.Description);
    }

    [Fact]
    public async Task ParseText_RawLongerThan4096ButParsedWithin_IsAccepted()
    {
        var text = "<b>" + new string('x', 4090) + "</b> &amp;&amp;";

        var reply = await CallAsync("sendMessage", new { chat_id = ChatId, text, parse_mode = "HTML" });

        Assert.True(text.Length > 4096);
        Assert.True(reply.Ok, reply.ToString());
        Assert.Equal(4093, Control.GetMessages().Single().Text!.Length);
    }

    [Fact]
    public async Task ParseText_EscapesCountAsOneCharacter_4097AfterDecodingRefused()
    {
        var text = string.Concat(Enumerable.Repeat("&lt;", 4097));

        var reply = await CallAsync("sendMessage", new { chat_id = ChatId, text, parse_mode = "HTML" });

        Assert.Equal("Bad Request: message is too long", reply.Description);
    }

    [Fact]
    public async Task ParseText_LengthInUtf16Units_2049EmojiRefused()
    {
        var text = string.Concat(Enumerable.Repeat("😀", 2049));

        var reply = await CallAsync("sendMessage", new { chat_id = ChatId, text });

        Assert.Equal("Bad Request: message is too long", reply.Description);
    }

    [Fact]
    public async Task ParseText_OnlyTagsAndWhitespace_AnswersMessageTextIsEmpty()
    {
        var reply = await CallAsync("sendMessage", new { chat_id = ChatId, text = "<b> </b>\n", parse_mode = "HTML" });

        Assert.Equal("Bad Request: message text is empty", reply.Description);
    }

    [Fact]
    public async Task ParseText_UnknownParseMode_Answers400()
    {
        var reply = await CallAsync("sendMessage", new { chat_id = ChatId, text = "x", parse_mode = "XML" });

        Assert.Equal("Bad Request: unsupported parse_mode", reply.Description);
    }

    [Fact]
    public async Task ParseText_WithoutParseMode_KeepsTagsAsText()
    {
        var reply = await CallAsync("sendMessage", new { chat_id = ChatId, text = "<b>1 & 2</b>" });

        Assert.True(reply.Ok, reply.ToString());
        Assert.Equal("<b>1 & 2</b>", Control.GetMessages().Single().Text);
    }

    [Fact]
    public async Task ParseCaption_1025Characters_AnswersCaptionIsTooLong()
    {
        using var form = new MultipartFormDataContent
        {
            { new StringContent("1001"), "chat_id" },
            { new StringContent(new string('c', 1025)), "caption" },
            { new ByteArrayContent([1, 2, 3]), "document", "a.bin" },
        };

        var reply = await SendAsync(new HttpRequestMessage(HttpMethod.Post, MethodPath("sendDocument")) { Content = form });

        Assert.Equal("Bad Request: message caption is too long", reply.Description);
    }
}
