using System.Text.Json;

namespace ApprovalBot.Tests.Sandbox;

public sealed class GetUpdatesMethodTests : SandboxTestBase
{
    private static long[] UpdateIds(BotReply reply) =>
        reply.Result.EnumerateArray().Select(u => u.GetProperty("update_id").GetInt64()).ToArray();

    [Fact]
    public async Task GetUpdates_WithoutOffset_ReturnsUnconfirmedUpdatesAgain()
    {
        var first = Control.SendUserMessage("/pending");
        var second = Control.SendUserMessage("/help");

        var once = await CallAsync("getUpdates");
        var twice = await CallAsync("getUpdates");

        Assert.Equal([first.UpdateId, second.UpdateId], UpdateIds(once));
        Assert.Equal(UpdateIds(once), UpdateIds(twice));
    }

    [Fact]
    public async Task GetUpdates_OffsetAboveAnUpdate_ConfirmsAndDropsIt()
    {
        var first = Control.SendUserMessage("/pending");
        var second = Control.SendUserMessage("/help");

        var reply = await CallAsync("getUpdates", new { offset = first.UpdateId + 1 });

        Assert.Equal([second.UpdateId], UpdateIds(reply));
        await Control.WaitForUpdateConfirmedAsync(first.UpdateId, Wait);
        Assert.Equal(first.UpdateId + 1, Control.ConfirmedOffset);
        Assert.Equal(1, Control.PendingUpdateCount);
    }

    [Fact]
    public async Task GetUpdates_NegativeOffset_KeepsOnlyTheLastUpdates()
    {
        Control.SendUserMessage("one");
        Control.SendUserMessage("two");
        var last = Control.SendUserMessage("three");

        var reply = await CallAsync("getUpdates", new { offset = -1 });

        Assert.Equal([last.UpdateId], UpdateIds(reply));
    }

    [Fact]
    public async Task GetUpdates_Limit_CapsTheBatch()
    {
        for (var i = 0; i < 3; i++)
        {
            Control.SendUserMessage($"m{i}");
        }

        var reply = await CallAsync("getUpdates", new { limit = 2 });

        Assert.Equal(2, reply.Result.GetArrayLength());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(101)]
    public async Task GetUpdates_LimitOutside1To100_Answers400(int limit)
    {
        var reply = await CallAsync("getUpdates", new { limit });

        Assert.Equal("Bad Request: limit must be between 1 and 100", reply.Description);
    }

    [Fact]
    public async Task GetUpdates_ShortPollWithNothingQueued_ReturnsEmptyArrayAtOnce()
    {
        var reply = await CallAsync("getUpdates", new { timeout = 0 });

        Assert.Equal(JsonValueKind.Array, reply.Result.ValueKind);
        Assert.Equal(0, reply.Result.GetArrayLength());
    }

    [Fact]
    public async Task GetUpdates_LongPoll_WakesWhenAButtonIsPressed()
    {
        var id = await SendCardAsync();
        var poll = CallAsync("getUpdates", new { timeout = 30 });
        await Control.WaitForPollingAsync(Wait);

        var press = Control.PressButton(id, "a:1");
        var reply = await poll.WaitAsync(Wait);

        var update = Assert.Single(reply.Result.EnumerateArray());
        Assert.Equal(press.UpdateId, update.GetProperty("update_id").GetInt64());
        var query = update.GetProperty("callback_query");
        Assert.Equal(press.QueryId, query.GetProperty("id").GetString());
        Assert.Equal("a:1", query.GetProperty("data").GetString());
        Assert.Equal(Control.ApproverId, query.GetProperty("from").GetProperty("id").GetInt64());
        Assert.Equal(id, query.GetProperty("message").GetProperty("message_id").GetInt32());
        await Control.WaitForUpdateDeliveredAsync(press.UpdateId, Wait);
    }

    [Fact]
    public async Task GetUpdates_SecondPollWhileOneIsPending_TerminatesTheFirstWith409()
    {
        var first = CallAsync("getUpdates", new { timeout = 30 });
        await Control.WaitForPollingAsync(Wait);

        var second = await CallAsync("getUpdates", new { timeout = 0 });
        var terminated = await first.WaitAsync(Wait);

        Assert.True(second.Ok, second.ToString());
        Assert.Equal(409, terminated.ErrorCode);
        Assert.Equal("Conflict: terminated by other getUpdates request; make sure that only one bot instance is running", terminated.Description);
    }

    [Fact]
    public async Task GetUpdates_TimeoutAbove50Seconds_IsClampedTo50()
    {
        var poll = CallAsync("getUpdates", new { timeout = 3600 });
        await Control.WaitForPollingAsync(Wait);

        Assert.Equal(TimeSpan.FromSeconds(50), Control.LastLongPollTimeout);

        Control.SendUserMessage("/help");
        Assert.True((await poll.WaitAsync(Wait)).Ok);
    }

    [Fact]
    public async Task GetUpdates_AllowedUpdates_FiltersLaterUpdatesByType()
    {
        await CallAsync("getUpdates", new { allowed_updates = new[] { "callback_query" } });
        var id = await SendCardAsync();

        Control.SendUserMessage("/help");
        var press = Control.PressButton(id, "a:1");
        var reply = await CallAsync("getUpdates");

        Assert.Equal([press.UpdateId], UpdateIds(reply));
    }

    [Fact]
    public async Task GetUpdates_ClientGoesAway_PollEndsAndIsRecordedUnanswered()
    {
        using var cts = new CancellationTokenSource();
        var poll = Http.PostAsync(MethodPath("getUpdates") + "?timeout=30", null, cts.Token);
        await Control.WaitForPollingAsync(Wait);

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => poll);
        var call = await Control.WaitForCallAsync(c => c.Method == "getUpdates", Wait);
        Assert.Equal(0, call.StatusCode);
        Assert.False(Control.IsPolling);
    }
}
