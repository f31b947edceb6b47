using System.Net;
using System.Net.Http.Json;
using ApprovalBot.Tests.Infrastructure;
using ApprovalBot.Sandbox;

namespace ApprovalBot.Tests.Sandbox;

public sealed class RateLimiterTests : SandboxTestBase
{
    protected override SandboxSettings Settings => new()
    {
        Url = "http://127.0.0.1:0",
        RateLimits = true,
        Limits = new RateLimitSettings { PrivateChatBurst = 3, PrivateChatPerSecond = 0.1, GroupPerMinute = 2 },
    };

    [Fact]
    public async Task SendMessage_BurstAbovePrivateChatLimit_Answers429WithRetryAfter()
    {
        for (var i = 0; i < 3; i++)
        {
            Assert.True((await CallAsync("sendMessage", new { chat_id = ChatId, text = $"m{i}" })).Ok);
        }

        var reply = await CallAsync("sendMessage", new { chat_id = ChatId, text = "one too many" });

        Assert.Equal(HttpStatusCode.TooManyRequests, reply.Status);
        var retryAfter = reply.Parameters!.Value.GetProperty("retry_after").GetInt32();
        Assert.InRange(retryAfter, 1, 10);
        Assert.Equal($"Too Many Requests: retry after {retryAfter}", reply.Description);
        Assert.Equal(3, Control.GetMessages().Count);
    }

    [Fact]
    public async Task SendMessage_GroupAboveItsPerMinuteLimit_Answers429()
    {
        await CallAsync("sendMessage", new { chat_id = Control.GroupChatId, text = "1" });
        await CallAsync("sendMessage", new { chat_id = Control.GroupChatId, text = "2" });

        var reply = await CallAsync("sendMessage", new { chat_id = Control.GroupChatId, text = "3" });

        Assert.Equal(429, reply.ErrorCode);
        Assert.InRange(reply.Parameters!.Value.GetProperty("retry_after").GetInt32(), 59, 60);
    }

    [Fact]
    public async Task SendMessage_GroupLimit_IsAnyMinuteNotARefillingBucket()
    {
        var clock = new ManualTimeProvider();
        await using var server = await SandboxServer.StartAsync(Settings, loggerFactory: null, clock);
        using var http = new HttpClient { BaseAddress = server.BaseUrl };
        async Task<int> SendAsync()
        {
            using var response = await http.PostAsJsonAsync($"/bot{server.Token}/sendMessage", new { chat_id = server.Control.GroupChatId, text = "x" });
            return (int)response.StatusCode;
        }

        Assert.Equal(200, await SendAsync());
        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(200, await SendAsync());
        clock.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(429, await SendAsync());
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(200, await SendAsync());
        Assert.Equal(429, await SendAsync());
        Assert.Equal(clock.GetUtcNow(), server.Control.GetCalls("sendMessage")[^1].At);
    }

    [Fact]
    public async Task SendMessage_LimitIsPerChat_OtherChatStillServed()
    {
        for (var i = 0; i < 4; i++)
        {
            await CallAsync("sendMessage", new { chat_id = ChatId, text = $"m{i}" });
        }

        var reply = await CallAsync("sendMessage", new { chat_id = Control.StrangerId, text = "elsewhere" });

        Assert.True(reply.Ok, reply.ToString());
    }

    [Fact]
    public async Task SendMessage_RateLimitsSwitchedOff_NeverAnswers429()
    {
        Control.RateLimitsEnabled = false;

        for (var i = 0; i < 10; i++)
        {
            Assert.True((await CallAsync("sendMessage", new { chat_id = ChatId, text = $"m{i}" })).Ok);
        }
    }
}
