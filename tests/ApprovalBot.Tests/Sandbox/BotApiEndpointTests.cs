using System.Net;
using System.Text;
using ApprovalBot.Sandbox;

namespace ApprovalBot.Tests.Sandbox;

public sealed class BotApiEndpointTests : SandboxTestBase
{
    [Fact]
    public async Task Call_WrongToken_Answers401Unauthorized()
    {
        var reply = await SendAsync(new HttpRequestMessage(HttpMethod.Post, "/bot999:wrong-token/getMe"));

        Assert.Equal(HttpStatusCode.Unauthorized, reply.Status);
        Assert.False(reply.Ok);
        Assert.Equal(401, reply.ErrorCode);
        Assert.Equal("Unauthorized", reply.Description);
    }

    [Fact]
    public async Task Call_WrongToken_IsLoggedWithoutTheToken()
    {
        await SendAsync(new HttpRequestMessage(HttpMethod.Post, "/bot999:wrong-token/getMe"));

        var call = Assert.Single(Control.GetCalls());
        Assert.Equal(401, call.StatusCode);
        Assert.DoesNotContain(call.Parameters.Values, v => v.Contains("wrong-token", StringComparison.Ordinal));
    }

    /// <summary>
    /// A token whose secret holds "bot" (a real one may) reaches the Bot API: ASP.NET's complex segment "bot{token}" looked
    /// for the last "bot" in the segment, so such a token was a 404 for every method, its own bot's included.
    /// </summary>
    [Theory]
    [InlineData("/bot999:AAbot-wrong/getMe", HttpStatusCode.Unauthorized)]
    [InlineData("/botbot/getMe", HttpStatusCode.Unauthorized)]
    [InlineData("/bo999:x/getMe", HttpStatusCode.NotFound)]
    [InlineData("/999:x/getMe", HttpStatusCode.NotFound)]
    public async Task Call_TokenHoldingTheWordBot_RoutedToTheBotApi(string path, HttpStatusCode expected)
    {
        var reply = await SendAsync(new HttpRequestMessage(HttpMethod.Post, path));

        Assert.Equal(expected, reply.Status);
    }

    [Fact]
    public async Task Call_OwnTokenHoldingTheWordBot_Answered()
    {
        await using var server = await SandboxServer.StartAsync(new SandboxSettings { Url = "http://127.0.0.1:0", RateLimits = false, Token = "123:AAbotBOTbot_x" });
        using var http = new HttpClient { BaseAddress = server.BaseUrl };

        var answer = await http.PostAsync(new Uri("/bot123:AAbotBOTbot_x/getMe", UriKind.Relative), null);

        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Contains("\"ok\":true", await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Call_MethodNotInSpec_Answers404NotFound()
    {
        var reply = await CallAsync("sendTelepathicMessage");

        Assert.Equal(HttpStatusCode.NotFound, reply.Status);
        Assert.Equal(404, reply.ErrorCode);
        Assert.Equal("Not Found", reply.Description);
    }

    [Fact]
    public async Task Call_SpecMethodTheSandboxLacks_Answers400NotSupported()
    {
        var reply = await CallAsync("sendPhoto", new { chat_id = ChatId, photo = "x" });

        Assert.Equal(HttpStatusCode.BadRequest, reply.Status);
        Assert.Equal("Bad Request: method not supported by the sandbox", reply.Description);
    }

    [Theory]
    [InlineData("getme")]
    [InlineData("GETME")]
    [InlineData("getMe")]
    public async Task Call_MethodNameInAnyCase_IsServed(string method)
    {
        var reply = await CallAsync(method);

        Assert.True(reply.Ok, reply.ToString());
        Assert.Equal("getMe", Control.GetCalls().Single().Method);
    }

    [Fact]
    public async Task Call_GetWithQueryString_ReadsParameters()
    {
        var reply = await SendAsync(new HttpRequestMessage(HttpMethod.Get, MethodPath("sendMessage") + $"?chat_id={ChatId}&text=hello"));

        Assert.True(reply.Ok, reply.ToString());
        Assert.Equal("hello", reply.Result.GetProperty("text").GetString());
    }

    [Fact]
    public async Task Call_FormEncodedBody_ConvertsTypesFromText()
    {
        var reply = await CallFormAsync(
            "sendMessage",
            ("chat_id", ChatId.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("text", "<i>form</i>"),
            ("parse_mode", "HTML"),
            ("disable_notification", "true"),
            ("reply_markup", """{"inline_keyboard":[[{"text":"Go","callback_data":"go"}]]}"""));

        Assert.True(reply.Ok, reply.ToString());
        var sent = Assert.Single(Control.GetMessages());
        Assert.Equal("form", sent.Text);
        Assert.Equal("go", Assert.Single(sent.AllButtons).CallbackData);
    }

    [Fact]
    public async Task Call_JsonBodyThatIsNotAnObject_Answers400()
    {
        var reply = await CallJsonAsync("getMe", "[1,2]");

        Assert.Equal(HttpStatusCode.BadRequest, reply.Status);
        Assert.StartsWith("Bad Request:", reply.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Call_UnsupportedContentType_Answers400()
    {
        var reply = await SendAsync(new HttpRequestMessage(HttpMethod.Post, MethodPath("getMe"))
        {
            Content = new StringContent("chat_id=1", Encoding.UTF8, "text/plain"),
        });

        Assert.Equal(HttpStatusCode.BadRequest, reply.Status);
    }

    [Fact]
    public async Task Call_AnyOtherPath_Answers404InTheEnvelope()
    {
        var reply = await SendAsync(new HttpRequestMessage(HttpMethod.Get, "nope/at/all"));

        Assert.Equal(HttpStatusCode.NotFound, reply.Status);
        Assert.Equal("Not Found", reply.Description);
    }

    [Fact]
    public async Task Call_Answered_IsRecordedWithParametersAndStatus()
    {
        await CallAsync("sendMessage", new { chat_id = ChatId, text = "logged" });
        await CallAsync("sendMessage", new { chat_id = 42, text = "nowhere" });

        var calls = Control.GetCalls("sendMessage");
        Assert.Equal([200, 400], calls.Select(c => c.StatusCode));
        Assert.Equal("logged", calls[0].Parameters["text"]);
        Assert.Equal("Bad Request: chat not found", calls[1].Description);
    }

    [Fact]
    public async Task Call_Error_HttpStatusEqualsErrorCode()
    {
        Control.InjectFault("getMe", SandboxFault.Error(403, "Forbidden: bot was blocked by the user"));

        var reply = await CallAsync("getMe");

        Assert.Equal(HttpStatusCode.Forbidden, reply.Status);
        Assert.Equal(403, reply.ErrorCode);
    }
}
