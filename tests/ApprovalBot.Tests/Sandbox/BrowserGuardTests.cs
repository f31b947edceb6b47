using System.Net;
using System.Text;
using ApprovalBot.Sandbox;

namespace ApprovalBot.Tests.Sandbox;

/// <summary>
/// What a web page in the user's browser can make of the sandbox: a cross-site POST, a DNS rebinding (a foreign Host),
/// a cross-site GET by an image. Each request is sent over loopback with the headers a browser would send.
/// </summary>
public sealed class BrowserGuardTests : SandboxTestBase
{
    private const string Evil = "http://attacker.example";

    private string OwnOrigin => $"http://127.0.0.1:{Server.BaseUrl.Port}";

    private async Task<(HttpStatusCode Status, string Body)> SendRawAsync(
        HttpMethod method, string path, HttpContent? content = null, string? origin = null, string? host = null, string? fetchSite = null, string? fetchMode = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        if (origin is not null)
        {
            request.Headers.TryAddWithoutValidation("Origin", origin);
        }
        if (host is not null)
        {
            request.Headers.Host = host;
        }
        if (fetchSite is not null)
        {
            request.Headers.TryAddWithoutValidation("Sec-Fetch-Site", fetchSite);
        }
        if (fetchMode is not null)
        {
            request.Headers.TryAddWithoutValidation("Sec-Fetch-Mode", fetchMode);
        }
        using var response = await Http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static StringContent JsonBody(string json) => new(json, Encoding.UTF8, "application/json");

    private int PendingUpdates() => Control.PendingUpdateCount;

    [Fact]
    public async Task Updates_TextPlainPostFromAnotherOrigin_IsRefusedAndQueuesNothing()
    {
        // What a page's fetch(url, {method: "POST", mode: "no-cors", body}) sends: no preflight, text/plain.
        var (status, body) = await SendRawAsync(HttpMethod.Post, "sandbox/updates",
            new StringContent("""{"callback_query":{"id":"1","data":"a:1"}}""", Encoding.UTF8, "text/plain"), origin: Evil);

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Contains($"Origin {Evil} is not the sandbox at {OwnOrigin}", body, StringComparison.Ordinal);
        Assert.Equal(0, PendingUpdates());
    }

    [Fact]
    public async Task Updates_TextPlainPostWithoutOrigin_IsRefusedAsNotJson()
    {
        var (status, body) = await SendRawAsync(HttpMethod.Post, "sandbox/updates", new StringContent("""{"message":{"text":"x"}}""", Encoding.UTF8, "text/plain"));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
        Assert.Contains("Content-Type: application/json", body, StringComparison.Ordinal);
        Assert.Equal(0, PendingUpdates());
    }

    [Fact]
    public async Task TokenRevoke_FormPostFromAnotherOrigin_IsRefusedAndTheTokenStillWorks()
    {
        var token = Server.Token;

        var (status, _) = await SendRawAsync(HttpMethod.Post, "sandbox/token/revoke", new FormUrlEncodedContent([]), origin: Evil, fetchSite: "cross-site", fetchMode: "navigate");

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal(token, Server.Token);
        Assert.True((await CallAsync("getMe")).Ok);
    }

    [Theory]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("multipart/form-data")]
    [InlineData(null)]
    public async Task TokenRevoke_PostThatIsNotJson_IsRefused415(string? mediaType)
    {
        var token = Server.Token;
        using var content = mediaType is null ? null : new StringContent("", Encoding.UTF8, mediaType);

        var (status, _) = await SendRawAsync(HttpMethod.Post, "sandbox/token/revoke", content);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
        Assert.Equal(token, Server.Token);
    }

    [Fact]
    public async Task TokenRevoke_JsonPostWithNoBody_Revokes()
    {
        var token = Server.Token;

        var (status, _) = await SendRawAsync(HttpMethod.Post, "sandbox/token/revoke", JsonBody(""));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.NotEqual(token, Server.Token);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/sandbox/chats/1001/messages")]
    [InlineData("/sandbox")]
    public async Task AnyRequest_ForeignHost_IsRefused421(string path)
    {
        // DNS rebinding: attacker.example now resolves to 127.0.0.1, and the browser sends its name as Host.
        await SendCardAsync();

        var (status, body) = await SendRawAsync(HttpMethod.Get, path, host: $"attacker.example:{Server.BaseUrl.Port}");

        Assert.Equal(HttpStatusCode.MisdirectedRequest, status);
        Assert.Contains($"Host attacker.example:{Server.BaseUrl.Port} is not this sandbox", body, StringComparison.Ordinal);
        Assert.DoesNotContain("Draft", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BotApi_ForeignHost_IsRefused421InTelegramsShape()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, MethodPath("getMe"));
        request.Headers.Host = $"attacker.example:{Server.BaseUrl.Port}";

        var reply = await SendAsync(request);

        Assert.Equal(421, reply.ErrorCode);
        Assert.Empty(Control.GetCalls());
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("LOCALHOST")]
    [InlineData("127.0.0.1")]
    [InlineData("[::1]")]
    public async Task AnyRequest_LoopbackHostOnTheServedPort_IsServed(string name)
    {
        var (status, _) = await SendRawAsync(HttpMethod.Get, "sandbox/chats", host: $"{name}:{Server.BaseUrl.Port}");

        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Theory]
    [InlineData("127.0.0.1:1")]
    [InlineData("localhost")]
    public async Task AnyRequest_LoopbackHostOnAnotherPort_IsRefused421(string host)
    {
        var (status, _) = await SendRawAsync(HttpMethod.Get, "sandbox/chats", host: host);

        Assert.Equal(HttpStatusCode.MisdirectedRequest, status);
    }

    [Fact]
    public async Task AllowRemote_IpAddressOnAnyPortIsServed_ANameIsRefused()
    {
        // A container's published port may differ from the one the sandbox listens on; a name could be rebound.
        await using var remote = await SandboxServer.StartAsync(new SandboxSettings { Url = "http://127.0.0.1:0", AllowRemote = true, RateLimits = false });
        using var http = new HttpClient { BaseAddress = remote.BaseUrl };

        async Task<HttpStatusCode> GetAsync(string host)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "sandbox/chats");
            request.Headers.Host = host;
            using var response = await http.SendAsync(request);
            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, await GetAsync("127.0.0.1:8080"));
        Assert.Equal(HttpStatusCode.OK, await GetAsync("192.0.2.7:5780"));
        Assert.Equal(HttpStatusCode.OK, await GetAsync("localhost:8080"));
        Assert.Equal(HttpStatusCode.MisdirectedRequest, await GetAsync("devbox.example:5780"));
    }

    [Fact]
    public async Task Send_AsTheSandboxPageDoes_IsServed()
    {
        // The page's own fetch: same origin, JSON, Origin and Sec-Fetch-Site as a browser sets them.
        var (status, body) = await SendRawAsync(HttpMethod.Post, "/sandbox/send", JsonBody("""{"text":"/pending","from_user_id":1001,"chat_id":1001}"""),
            origin: OwnOrigin, fetchSite: "same-origin", fetchMode: "cors");
        var (page, _) = await SendRawAsync(HttpMethod.Get, "/", fetchSite: "none", fetchMode: "navigate");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("message_id", body, StringComparison.Ordinal);
        Assert.Equal(1, PendingUpdates());
        Assert.Equal(HttpStatusCode.OK, page);
    }

    [Fact]
    public async Task Send_FromAnotherOriginAsJson_IsRefused403()
    {
        // Only a CORS preflight could carry it, and the sandbox grants none; refused all the same.
        var (status, _) = await SendRawAsync(HttpMethod.Post, "/sandbox/send", JsonBody("""{"text":"/pending"}"""), origin: "http://127.0.0.1:1");

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal(0, PendingUpdates());
    }

    [Fact]
    public async Task BotApi_CrossSiteGetAsAnImageWouldSend_IsRefusedAndConfirmsNothing()
    {
        // <img src=".../bot<the well-known default token>/getUpdates?offset=..."> sends no Origin, only Sec-Fetch-Site.
        Control.SendUserMessage("/help");

        var (status, _) = await SendRawAsync(HttpMethod.Get, MethodPath("getUpdates") + "?offset=999999999999", fetchSite: "cross-site", fetchMode: "no-cors");

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal(1, PendingUpdates());
    }

    [Fact]
    public async Task Page_CrossSiteLinkToIt_Opens()
    {
        var (status, body) = await SendRawAsync(HttpMethod.Get, "/", fetchSite: "cross-site", fetchMode: "navigate");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("<!doctype html>", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BotApi_TheServicesOwnCall_IsServed()
    {
        // HttpClient to the base URL, as the service calls it: Host is the bound address, no Origin, no Sec-Fetch-*.
        var reply = await CallFormAsync("sendMessage", ("chat_id", ChatId.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("text", "hi"));

        Assert.True(reply.Ok, reply.ToString());
    }
}
