using ApprovalBot.Sandbox;
using ApprovalBot.Tests.Infrastructure;

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

    [Fact]
    public async Task StartAsync_AgainAfterMessages_NewChatsHandOutIdsAboveTheEarlierSandboxs()
    {
        // A bot that keeps the ids of its messages (to edit them later) across a restart of the sandbox must never
        // find one of them on another message: like Telegram, whose chats never hand out an id twice.
        var clock = new ManualTimeProvider(DateTimeOffset.Parse("2026-11-22T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var settings = new SandboxSettings { Url = "http://127.0.0.1:0", RateLimits = false };
        var earlier = new List<int>();
        await using (var first = await SandboxServer.StartAsync(settings, loggerFactory: null, clock))
        {
            for (var i = 0; i < 3; i++)
            {
                earlier.Add(first.Control.SendUserMessage("/help").MessageId);
                clock.Advance(TimeSpan.FromSeconds(1));
            }
        }

        await using var second = await SandboxServer.StartAsync(settings, loggerFactory: null, clock);
        var next = second.Control.SendUserMessage("/help").MessageId;
        var inGroup = second.Control.SendUserMessage("/help", chatId: second.Control.GroupChatId).MessageId;

        Assert.Equal([earlier[0], earlier[0] + 1, earlier[0] + 2], earlier);
        Assert.True(earlier[0] > 1_000, $"first id {earlier[0]}");
        Assert.True(next > earlier[^1], $"{next} after {earlier[^1]}");
        Assert.True(inGroup > earlier[^1], $"{inGroup} after {earlier[^1]}");
    }

    [Fact]
    public async Task StartAsync_FirstMessageId_EveryChatStartsThere()
    {
        await using var server = await SandboxServer.StartAsync(new SandboxSettings { Url = "http://127.0.0.1:0", FirstMessageId = 5000 });

        Assert.Equal(5000, server.Control.SendUserMessage("/help").MessageId);
        Assert.Equal(5001, server.Control.SendUserMessage("/help").MessageId);
        Assert.Equal(5000, server.Control.SendUserMessage("/help", chatId: server.Control.GroupChatId).MessageId);
        server.Control.MigrateChat(server.Control.GroupChatId, -100_777, notify: false);
        Assert.Equal(5000, server.Control.SendUserMessage("/help", chatId: -100_777).MessageId);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public async Task StartAsync_FirstMessageIdNotPositive_Throws(int first)
    {
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => SandboxServer.StartAsync(new SandboxSettings { Url = "http://127.0.0.1:0", FirstMessageId = first }));

        Assert.Contains("FirstMessageId must be at least 1", ex.Message, StringComparison.Ordinal);
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
