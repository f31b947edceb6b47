using ApprovalBot.Sandbox;

namespace ApprovalBot.Tests.Sandbox;

public sealed class SandboxServerTests
{
    [Fact]
    public async Task StartAsync_Port0_BindsAFreePortAndReportsIt()
    {
        await using var server = await SandboxServer.StartAsync(new SandboxSettings { Url = "http://127.0.0.1:0" });

        Assert.NotEqual(0, server.BaseUrl.Port);
        Assert.EndsWith("/", server.BaseUrl.AbsoluteUri, StringComparison.Ordinal);
        Assert.Equal(1001, server.PrivateChatId);
        using var http = new HttpClient { BaseAddress = server.BaseUrl };
        using var response = await http.GetAsync($"/bot{server.Token}/getMe");
        Assert.True(response.IsSuccessStatusCode);
    }

    [Fact]
    public async Task StartAsync_CustomPeople_AreWhoTheSandboxKnows()
    {
        await using var server = await SandboxServer.StartAsync(new SandboxSettings { Url = "http://127.0.0.1:0", ApproverId = 42, ApproverName = "Bob", GroupChatId = -77 });

        Assert.Equal(42, server.PrivateChatId);
        var sent = server.Control.SendUserMessage("/help");
        Assert.Equal(42, sent.ChatId);
        Assert.Equal(-77, server.Control.GroupChatId);
    }

    [Theory]
    [InlineData("no-colon")]
    [InlineData("abc:def")]
    [InlineData("123:has space")]
    public async Task StartAsync_TokenNotInBotTokenFormat_Throws(string token)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => SandboxServer.StartAsync(new SandboxSettings { Url = "http://127.0.0.1:0", Token = token }));
    }

    [Theory]
    [InlineData("http://0.0.0.0:0")]
    [InlineData("http://[::]:0")]
    [InlineData("http://sandbox.example:0")]
    public async Task StartAsync_NonLoopbackUrlWithoutAllowRemote_ThrowsBeforeListening(string url)
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => SandboxServer.StartAsync(new SandboxSettings { Url = url }));

        Assert.Contains("loopback", error.Message, StringComparison.Ordinal);
        Assert.Contains("AllowRemote", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://127.0.0.1:5780", true)]
    [InlineData("http://localhost:5780", true)]
    [InlineData("http://[::1]:5780", true)]
    [InlineData("http://0.0.0.0:5780", false)]
    [InlineData("http://10.0.0.5:5780", false)]
    [InlineData("http://*:5780", false)]
    public void IsLoopbackUrl_Address_OnlyLoopbackCounts(string url, bool loopback) =>
        Assert.Equal(loopback, SandboxSettings.IsLoopbackUrl(url));

    [Fact]
    public async Task StopAsync_WhilePollPending_StopsPromptlyAndTwiceIsHarmless()
    {
        var server = await SandboxServer.StartAsync(new SandboxSettings { Url = "http://127.0.0.1:0" });
        using var http = new HttpClient { BaseAddress = server.BaseUrl };
        var poll = http.GetAsync($"/bot{server.Token}/getUpdates?timeout=50");
        await server.Control.WaitForPollingAsync(TimeSpan.FromSeconds(10));

        await server.StopAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await server.DisposeAsync();

        await Assert.ThrowsAnyAsync<Exception>(() => poll);
    }

    [Fact]
    public async Task StartAsync_PortAlreadyTaken_ThrowsNamingTheUrl()
    {
        await using var first = await SandboxServer.StartAsync(new SandboxSettings { Url = "http://127.0.0.1:0" });
        var url = $"http://127.0.0.1:{first.BaseUrl.Port}";

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => SandboxServer.StartAsync(new SandboxSettings { Url = url }));

        Assert.Contains(url, error.Message, StringComparison.Ordinal);
    }
}
