using ApprovalBot.Drafts;
using ApprovalBot.Telegram;
using ApprovalBot.Telegram.Api;
using ApprovalBot.Telegram.Updates;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Tests.Telegram;

/// <summary>The bot with its real default outgoing limits against the sandbox with Telegram's limits on.</summary>
public sealed class RateLimitTests
{
    private const long Group = -1001;

    [Fact]
    public async Task Cards_BurstOfTwentyFiveToAGroup_PacedToTwentyInAnyMinuteAndNever429()
    {
        // One clock for the bot's limiter and the sandbox's limits, moved by the test: a minute passes without a minute of waiting.
        var clock = new SignallingClock();
        await using var h = await StartInGroupAsync(clock);
        var start = clock.GetUtcNow();
        var ids = Enumerable.Range(1, 25).Select(i => $"reply:burst:{i:00}").ToList();

        foreach (var id in ids)
        {
            await h.SubmitAsync(id, "text of " + id);
        }
        await h.WaitForStateAsync(ids[19], DraftState.Carded);
        var due = await clock.NextTimerAsync(TelegramHarness.Wait);

        // The 21st waits until the first card leaves the minute, not 3 s as a bucket refilling 20 a minute would allow.
        Assert.Equal(start + TimeSpan.FromMinutes(1), due);
        Assert.Equal(DraftState.Pending, h.Host.Store.Get(ids[20])!.State);
        clock.Advance(TimeSpan.FromMinutes(1));
        foreach (var id in ids.Skip(20))
        {
            await h.WaitForStateAsync(id, DraftState.Carded);
        }

        var sends = h.Control.GetCalls("sendMessage");
        Assert.DoesNotContain(sends, c => c.StatusCode == 429);
        var delivered = sends.Where(c => c.Ok).Select(c => c.At).ToList();
        Assert.Equal(25, delivered.Count);
        Assert.All(delivered, from => Assert.True(delivered.Count(at => at >= from && at < from + TimeSpan.FromMinutes(1)) <= 20, $"more than 20 in the minute from {from}"));
        Assert.Equal(25, h.Control.GetMessages(Group).Count);
    }

    [Fact]
    public async Task Tap_AfterTheGroupsMinuteIsSpentOnCards_AnsweredAndCardEditedWithoutWaitingForTheMinute()
    {
        var clock = new SignallingClock();
        await using var h = await StartInGroupAsync(clock);
        var ids = await SpendTheGroupsMinuteOnCardsAsync(h, "spent");
        var card = await h.WaitForCardAsync(ids[0]);

        // The clock does not move: an edit that waited for the group's minute would never come.
        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"), chatId: Group);
        var answer = await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        var edited = await h.Control.WaitForEditAsync(Group, card.MessageId, TelegramHarness.Wait, m => m.Text?.Contains("Approved by", StringComparison.Ordinal) == true);

        Assert.Equal(DraftState.Approved, h.Host.Store.Get(ids[0])!.State);
        Assert.NotNull(answer);
        Assert.Empty(edited.Current.Buttons);
        Assert.DoesNotContain(h.Control.GetCalls("editMessageText"), c => c.StatusCode == 429);
    }

    /// <summary>
    /// An approver's command whose reply must wait for the group's minute, spent on cards, does not hold up the tap behind
    /// it: the poller handles one update at a time, and it waited for that reply's send slot, up to a minute. The reply is
    /// queued instead and goes out once the minute has passed; the command's update is confirmed before it goes.
    /// </summary>
    [Fact]
    public async Task Pending_ByApproverAfterTheGroupsMinuteIsSpentOnCards_TapBehindItDecidedAtOnceReplySentOnceTheMinutePasses()
    {
        var clock = new SignallingClock();
        await using var h = await StartInGroupAsync(clock);
        var ids = await SpendTheGroupsMinuteOnCardsAsync(h, "queued");
        var card = await h.WaitForCardAsync(ids[0]);

        // The clock does not move: a tap behind a reply that waited for the group's minute would never be answered.
        var pending = h.Control.SendUserMessage("/pending", chatId: Group);
        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"), chatId: Group);
        var answer = await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        await h.Control.WaitForEditAsync(Group, card.MessageId, TelegramHarness.Wait, m => m.Text?.Contains("Approved by", StringComparison.Ordinal) == true);
        await h.Control.WaitForUpdateConfirmedAsync(pending.UpdateId, TelegramHarness.Wait);

        Assert.Equal("✅ Approved", answer.Text);
        Assert.Equal(DraftState.Approved, h.Host.Store.Get(ids[0])!.State);
        Assert.Equal(20, h.Control.GetMessages(Group).Count);
        // The reply waits for the first card to leave the group's minute, then goes out.
        var due = await clock.NextTimerAsync(TelegramHarness.Wait);
        Assert.Equal(20, h.Control.GetMessages(Group).Count);
        clock.Advance(due - clock.GetUtcNow());
        var reply = await h.Control.WaitForMessageAsync(Group, pending.MessageId, m => m.Text?.StartsWith("Awaiting a decision", StringComparison.Ordinal) == true, TelegramHarness.Wait);

        // Built when the command was handled, before the tap behind it.
        Assert.Contains(ids[0], reply.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(h.Control.GetCalls("sendMessage"), c => c.StatusCode == 429);
    }

    /// <summary>
    /// A reply still queued when the service stops does not hold up the stop and is not sent: it is not state, and its
    /// command, confirmed already, is not handled again after the restart (no second reply to it).
    /// </summary>
    [Fact]
    public async Task Pending_ReplyQueuedWhenTheServiceStops_StopsAtOnceCommandNotHandledAgain()
    {
        var clock = new SignallingClock();
        await using var h = await StartInGroupAsync(clock);
        var ids = await SpendTheGroupsMinuteOnCardsAsync(h, "stopped");
        var pending = h.Control.SendUserMessage("/pending", chatId: Group);
        await h.Control.WaitForUpdateConfirmedAsync(pending.UpdateId, TelegramHarness.Wait);
        await clock.NextTimerAsync(TelegramHarness.Wait);

        var stopping = System.Diagnostics.Stopwatch.StartNew();
        await h.RestartHostAsync();
        Assert.True(stopping.Elapsed < TelegramHarness.Wait, $"the restart took {stopping.Elapsed}");
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        clock.Advance(TimeSpan.FromMinutes(1));
        var again = h.Control.SendUserMessage("/pending", chatId: Group);
        await h.Control.WaitForMessageAsync(Group, again.MessageId, m => m.Text?.StartsWith("Awaiting a decision", StringComparison.Ordinal) == true, TelegramHarness.Wait);

        Assert.Single(h.Control.GetMessages(Group), m => m.Text?.StartsWith("Awaiting a decision", StringComparison.Ordinal) == true);
    }

    /// <summary>
    /// Strangers' commands, however many, never hold up the updates behind them: the poller handles one update at a time,
    /// and a reply waiting for a send slot held every tap behind it (a group allows 20 a minute, a private chat one a second
    /// after a burst), so a stranger sending commands every few seconds kept an approver's tap unanswered for ever. A reply
    /// to anyone but an approver in the approvers' chat is sent only while half of the limits it falls under is free, else
    /// dropped (each command still recorded); the approver's tap and command are answered at once. The clock never moves:
    /// anything that waited for a slot would wait for ever.
    /// </summary>
    [Theory]
    [InlineData("the stranger's private chat", "/pending")]
    [InlineData("a group that is not ChatId", "/start@{bot}")]
    [InlineData("the approvers' group", "/start@{bot}")]
    public async Task Commands_StrangerFloods_ApproversTapAndCommandAnsweredAtOnceRepliesBeyondHalfTheLimitDropped(string where, string command)
    {
        const int flood = 25;
        var clock = new SignallingClock();
        var approversGroup = where == "the approvers' group";
        await using var h = approversGroup ? await StartInGroupAsync(clock) : await StartAsync(clock, []);
        var approversChat = approversGroup ? Group : h.ChatId;
        var strangerChat = where == "the stranger's private chat" ? h.Control.StrangerId : Group;
        var card = await h.SubmitCardedAsync("reply:flooded", "text");

        for (var i = 0; i < flood; i++)
        {
            h.Control.SendUserMessage(command.Replace("{bot}", h.Control.BotUsername, StringComparison.Ordinal), fromUserId: h.Control.StrangerId, chatId: strangerChat);
        }
        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"), chatId: approversChat);
        var pending = h.Control.SendUserMessage("/pending", chatId: approversChat);
        var answer = await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        await h.Control.WaitForMessageAsync(approversChat, pending.MessageId, m => m.Text?.StartsWith("Nothing awaits", StringComparison.Ordinal) == true, TelegramHarness.Wait);
        await h.Control.WaitForUpdateConfirmedAsync(pending.UpdateId, TelegramHarness.Wait);

        Assert.Equal("✅ Approved", answer.Text);
        Assert.Equal(DraftState.Approved, h.Host.Store.Get("reply:flooded")!.State);
        Assert.Equal(flood, h.Host.Store.EventsOfType(CallbackRouter.SecurityEvent).Count);
        var refusals = h.Control.GetMessages(strangerChat).Count(m => m.Text is { } t && (t.StartsWith("⛔", StringComparison.Ordinal) || t.StartsWith("👋", StringComparison.Ordinal)));
        Assert.InRange(refusals, 1, flood / 2);
        Assert.DoesNotContain(h.Control.GetCalls("sendMessage"), c => c.StatusCode == 429);
    }

    /// <summary>Twenty drafts carded in the group, which takes no other new message until the clock moves a minute on; their ids.</summary>
    private static async Task<List<string>> SpendTheGroupsMinuteOnCardsAsync(TelegramHarness h, string name)
    {
        var ids = Enumerable.Range(1, 20).Select(i => $"reply:{name}:{i:00}").ToList();
        foreach (var id in ids)
        {
            await h.SubmitAsync(id, "text of " + id);
        }
        await h.WaitForStateAsync(ids[19], DraftState.Carded);
        return ids;
    }

    /// <summary>The bot in a group chat with its default limits, the sandbox with Telegram's, both on <paramref name="clock"/>; polling.</summary>
    private static Task<TelegramHarness> StartInGroupAsync(SignallingClock clock) => StartAsync(clock, ["ApprovalBot:Telegram:ChatId=-1001"]);

    /// <summary>The bot with its default limits (<paramref name="settings"/> after the harness's), the sandbox with Telegram's, both on <paramref name="clock"/>; polling.</summary>
    private static async Task<TelegramHarness> StartAsync(SignallingClock clock, IEnumerable<string> settings)
    {
        var h = await TelegramHarness.StartAsync(
            settings,
            sandboxRateLimits: true,
            defaultRateLimits: true,
            services: s => s.AddSingleton(sp => new OutgoingRateLimiter(sp.GetRequiredService<IOptions<TelegramOptions>>(), clock)),
            sandboxClock: clock);
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        return h;
    }
}
