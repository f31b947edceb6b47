using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Cards;
using ApprovalBot.Telegram.Updates;
using ApprovalBot.Tests.Execution;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Tests.Telegram;

/// <summary>
/// my_chat_member: Telegram telling the bot its own status in a chat changed. The sandbox sends it when the bot is blocked
/// or removed and when it is let back in, as Telegram does; the host asks for it in allowed_updates. The waits that would
/// otherwise end it (the outbox's sweep, the follow-ups' look at the cards behind) run on clocks the tests never move.
/// </summary>
public sealed class BotMembershipTests
{
    private const string Category = "ApprovalBot.Telegram.Updates.BotMembership";

    /// <summary>
    /// The approver blocks the bot while agents submit: each card the chat refuses waits for the next sweep. Unblocked, the
    /// bot is told at once (my_chat_member), and every card that waited goes out then, without a sweep passing.
    /// </summary>
    [Fact]
    public async Task LetBackIn_CardsThatWaitedOnTheChatGoOutAtOnce_NoSweepTimerMoved()
    {
        var outboxClock = new ManualTimeProvider();
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(services: s => s.UseClock<CardOutbox>(outboxClock).AddSingleton<ILoggerProvider>(logs));
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        var start = outboxClock.GetUtcNow();
        h.Control.RemoveBotFromChat(h.ChatId);

        // One after the other: a pass stops at the first refusal, so a draft stored meanwhile would not be tried in it.
        await h.SubmitAsync("reply:waits-a", "first");
        await Eventually.TrueAsync(() => Refusals(h, "reply:waits-a") == 1, "the first card refused");
        await h.SubmitAsync("reply:waits-b", "second");
        await Eventually.TrueAsync(() => Refusals(h, "reply:waits-b") == 1, "the second card refused");
        Assert.All(["reply:waits-a", "reply:waits-b"], id => Assert.True(h.Host.Store.Get(id)!.CardNextAt > start, "put off to the next sweep"));

        Assert.True(h.Control.AddBotToChat(h.ChatId));
        await h.WaitForStateAsync("reply:waits-a", DraftState.Carded);
        await h.WaitForStateAsync("reply:waits-b", DraftState.Carded);

        Assert.Equal(start, outboxClock.GetUtcNow());
        await h.WaitForCardAsync("reply:waits-a");
        await h.WaitForCardAsync("reply:waits-b");
        var back = Assert.Single(logs.Entries, e => e.Category == Category && e.Level == LogLevel.Information);
        Assert.Equal("BotLetBackIntoChat", back.EventId.Name);
        Assert.Equal(h.ChatId, Convert.ToInt64(back.Properties["ChatId"], CultureInfo.InvariantCulture));
        Assert.Equal("member", back.Properties["Status"]);
    }

    /// <summary>
    /// The agent withdraws a draft while the approver has the bot blocked: the edit that closes its card is refused (403,
    /// never retried by the backoff). Unblocked, the bot looks at the cards behind their draft at once, without waiting
    /// for the next look, and the card shows the withdrawal.
    /// </summary>
    [Fact]
    public async Task LetBackIn_EditsTheChatRefusedGoOutAtOnce_NoLookTimerMoved()
    {
        var followUpsClock = new ManualTimeProvider();
        await using var h = await TelegramHarness.StartAsync(services: s => s.UseClock<CardFollowUps>(followUpsClock));
        var card = await h.SubmitCardedAsync("reply:withdrawn-meanwhile", "Withdraw me while the bot is blocked");
        var start = followUpsClock.GetUtcNow();
        h.Control.RemoveBotFromChat(h.ChatId);

        await using (var agent = await h.Host.ConnectAsync())
        {
            Assert.True((await agent.CancelAsync("reply:withdrawn-meanwhile", "changed my mind")).Ok);
        }
        await h.Control.WaitForCallAsync(c => c.Method == "editMessageText" && c.StatusCode == 403, TelegramHarness.Wait);
        Assert.NotEmpty(h.Control.GetMessage(h.ChatId, card.MessageId)!.Buttons);

        h.Control.AddBotToChat(h.ChatId);
        var edited = await h.Control.WaitForEditAsync(h.ChatId, card.MessageId, TelegramHarness.Wait, m => m.Buttons.Count == 0);

        Assert.Contains("🚫 Withdrawn by the agent at ", edited.Text, StringComparison.Ordinal);
        Assert.Equal(start, followUpsClock.GetUtcNow());
    }

    /// <summary>
    /// Blocked: logged once at Warning with what changed and who did it, also when the same update comes again; once let
    /// back in, a new block is logged again.
    /// </summary>
    [Fact]
    public async Task ShutOut_WarningOnceWithNamedProperties_AgainAfterALetBackIn()
    {
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);

        h.Control.RemoveBotFromChat(h.ChatId);
        await h.Control.WaitForUpdateConfirmedAsync(h.Control.EnqueueRawUpdate(Change(h, "member", "kicked").ToJsonString()), TelegramHarness.Wait);

        var shutOut = Assert.Single(ShutOuts(logs));
        Assert.Equal(LogLevel.Warning, shutOut.Level);
        Assert.Equal(h.ChatId, Convert.ToInt64(shutOut.Properties["ChatId"], CultureInfo.InvariantCulture));
        Assert.Equal("kicked", shutOut.Properties["Status"]);
        Assert.Equal(h.Control.ApproverId, Convert.ToInt64(shutOut.Properties["UserId"], CultureInfo.InvariantCulture));

        h.Control.AddBotToChat(h.ChatId);
        h.Control.RemoveBotFromChat(h.ChatId);
        await h.Control.WaitForUpdateConfirmedAsync(h.Control.SendUserMessage("/help").UpdateId, TelegramHarness.Wait);

        Assert.Equal(2, ShutOuts(logs).Count());
        Assert.Empty(h.Host.Store.EventsOfType(CallbackRouter.SecurityEvent));
    }

    private static IEnumerable<CapturedLogs.Entry> ShutOuts(CapturedLogs logs) => logs.Entries.Where(e => e.EventId.Name == "BotShutOutOfChat");

    /// <summary>
    /// Which statuses let the bot post, by the kind of chat: only a change from one that did not to one that does lets the
    /// waiting cards out (a promotion frees nothing), and only one to a status that does not is a shut-out. Each case: the
    /// chat's type, the old and the new status (with the rights that decide, as Telegram sends them), and the log event.
    /// </summary>
    [Theory]
    [InlineData("private", "kicked", "member", "BotLetBackIntoChat")]
    [InlineData("group", "left", "administrator", "BotLetBackIntoChat")]
    [InlineData("supergroup", "kicked", "restricted:member:send", "BotLetBackIntoChat")]
    [InlineData("channel", "left", "administrator:post", "BotLetBackIntoChat")]
    [InlineData("group", "member", "administrator", null)]
    [InlineData("supergroup", "administrator", "restricted:member:send", null)]
    [InlineData("supergroup", "member", "restricted:member", "BotShutOutOfChat")]
    [InlineData("supergroup", "member", "restricted:send", "BotShutOutOfChat")]
    [InlineData("channel", "administrator:post", "administrator", "BotShutOutOfChat")]
    [InlineData("channel", "left", "member", "BotShutOutOfChat")]
    [InlineData("private", "member", "kicked", "BotShutOutOfChat")]
    public async Task StatusChange_LetsTheCardsOutOnlyFromAStatusThatCouldNotPost(string chatType, string oldStatus, string newStatus, string? logged)
    {
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        var update = Change(h, oldStatus, newStatus);
        update["my_chat_member"]!["chat"] = new JsonObject { ["id"] = h.ChatId, ["title"] = "Approvers", ["type"] = chatType };

        await h.Control.WaitForUpdateConfirmedAsync(h.Control.EnqueueRawUpdate(update.ToJsonString()), TelegramHarness.Wait);

        var events = logs.Entries.Where(e => e.EventId.Name is "BotLetBackIntoChat" or "BotShutOutOfChat").Select(e => e.EventId.Name).ToList();
        Assert.Equal(logged is null ? [] : [logged], events);
        Assert.Empty(h.Host.Store.EventsOfType(CallbackRouter.SecurityEvent));
    }

    /// <summary>
    /// my_chat_member updates that must not let the waiting cards out: about another member than the bot, about another
    /// chat, or malformed. Each comes while the chat refuses the bot (a card waits), twice (as a redelivery would), and
    /// changes nothing: the waiting card is not tried again, the next card is. One about someone else or elsewhere is a
    /// security event, recorded once; a malformed one is skipped with a warning naming what is wrong. The offset moves past each.
    /// </summary>
    [Theory]
    [InlineData("member is another user", "membership_not_the_bot", null)]
    [InlineData("member has the bot's id but is no bot", "membership_not_the_bot", null)]
    [InlineData("old member is another user", "membership_not_the_bot", null)]
    [InlineData("another chat the bot is in", "membership_other_chat", null)]
    [InlineData("a chat the bot does not know", "membership_other_chat", null)]
    [InlineData("unknown status", null, "my_chat_member with an unknown status: superuser")]
    [InlineData("no new member", null, "my_chat_member without new_chat_member and its user")]
    [InlineData("new member without user", null, "my_chat_member without new_chat_member and its user")]
    [InlineData("no old member", null, "my_chat_member without old_chat_member and its user")]
    [InlineData("no chat", null, "my_chat_member without a chat")]
    [InlineData("chat id not a number", null, "")]
    [InlineData("not an object", null, "")]
    public async Task BadMyChatMember_ChangesNothing_RecordedOrSkipped(string scenario, string? securityReason, string? malformed)
    {
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(services: s => s.UseClock<CardOutbox>(new ManualTimeProvider()).AddSingleton<ILoggerProvider>(logs));
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        h.Control.RemoveBotFromChat(h.ChatId);
        await h.SubmitAsync("reply:still-waits", "waits on the chat");
        await Eventually.TrueAsync(() => Refusals(h, "reply:still-waits") == 1, "the card refused");

        var update = Bad(h, scenario).ToJsonString();
        h.Control.EnqueueRawUpdate(update);
        await h.Control.WaitForUpdateConfirmedAsync(h.Control.EnqueueRawUpdate(update), TelegramHarness.Wait);
        // Had the update let the cards out, the waiting card would go first in the pass the next draft starts.
        await h.SubmitAsync("reply:next", "tried in the next pass");
        await Eventually.TrueAsync(() => Refusals(h, "reply:next") == 1 || Refusals(h, "reply:still-waits") > 1, "the next pass");

        Assert.Equal(1, Refusals(h, "reply:still-waits"));
        Assert.Equal(1, Refusals(h, "reply:next"));
        Assert.DoesNotContain(logs.Entries, e => e.EventId.Name == "BotLetBackIntoChat");
        var security = h.Host.Store.EventsOfType(CallbackRouter.SecurityEvent);
        if (securityReason is null)
        {
            Assert.Empty(security);
            Assert.Equal(2, logs.Entries.Count(e => e.Level == LogLevel.Warning && e.Message.StartsWith("Skipped malformed update ", StringComparison.Ordinal)
                && e.Message.EndsWith(malformed!, StringComparison.Ordinal)));
        }
        else
        {
            var details = JsonDocument.Parse(Assert.Single(security).Details!).RootElement;
            Assert.Equal(securityReason, details.GetProperty("reason").GetString());
            Assert.Equal(h.Control.ApproverId, details.GetProperty("user_id").GetInt64());
            Assert.Equal("member", details.GetProperty("new_status").GetString());
            Assert.Single(logs.Entries, e => e.EventId.Name == "SecurityMembershipRefused");
        }
    }

    private static JsonNode Bad(TelegramHarness h, string scenario)
    {
        var update = Change(h, "kicked", "member");
        var change = update["my_chat_member"]!.AsObject();
        var bot = h.Control.BotId;
        switch (scenario)
        {
            case "member is another user":
                change["old_chat_member"]!["user"] = Person(h.Control.ApproverId);
                change["new_chat_member"]!["user"] = Person(h.Control.ApproverId);
                break;
            case "member has the bot's id but is no bot":
                change["new_chat_member"]!["user"] = Person(bot);
                break;
            case "old member is another user":
                change["old_chat_member"]!["user"] = Person(h.Control.StrangerId);
                break;
            case "another chat the bot is in":
                change["chat"] = new JsonObject { ["id"] = h.Control.GroupChatId, ["title"] = "Another group", ["type"] = "group" };
                break;
            case "a chat the bot does not know":
                change["chat"] = new JsonObject { ["id"] = 424242, ["first_name"] = "Someone", ["type"] = "private" };
                break;
            case "unknown status":
                change["new_chat_member"]!["status"] = "superuser";
                break;
            case "no new member":
                change.Remove("new_chat_member");
                break;
            case "new member without user":
                change["new_chat_member"]!.AsObject().Remove("user");
                break;
            case "no old member":
                change.Remove("old_chat_member");
                break;
            case "no chat":
                change.Remove("chat");
                break;
            case "chat id not a number":
                change["chat"]!["id"] = "ours";
                break;
            case "not an object":
                update["my_chat_member"] = "member";
                break;
            default:
                throw new ArgumentException(scenario, nameof(scenario));
        }
        return update;
    }

    /// <summary>The my_chat_member update Telegram sends when the approver changes the bot's status in their private chat.</summary>
    private static JsonObject Change(TelegramHarness h, string oldStatus, string newStatus) => new()
    {
        ["update_id"] = 0,
        ["my_chat_member"] = new JsonObject
        {
            ["chat"] = new JsonObject { ["id"] = h.ChatId, ["first_name"] = "Approver", ["type"] = "private" },
            ["from"] = Person(h.Control.ApproverId),
            ["date"] = 1_800_000_000,
            ["old_chat_member"] = Member(h.Control.BotId, oldStatus),
            ["new_chat_member"] = Member(h.Control.BotId, newStatus),
        },
    };

    /// <summary>The bot as a chat member; <paramref name="status"/> may carry rights: <c>restricted:member:send</c> (is_member, can_send_messages), <c>administrator:post</c> (can_post_messages).</summary>
    private static JsonObject Member(long botId, string status)
    {
        var parts = status.Split(':');
        var member = new JsonObject { ["status"] = parts[0], ["user"] = new JsonObject { ["id"] = botId, ["is_bot"] = true, ["first_name"] = "Bot" } };
        if (parts[0] == "kicked")
        {
            member["until_date"] = 0;
        }
        if (parts[0] == "restricted")
        {
            member["is_member"] = parts.Contains("member");
            member["can_send_messages"] = parts.Contains("send");
            member["until_date"] = 0;
        }
        if (parts[0] == "administrator")
        {
            member["can_post_messages"] = parts.Contains("post");
        }
        return member;
    }

    private static JsonObject Person(long id) => new() { ["id"] = id, ["is_bot"] = false, ["first_name"] = "Person" };

    /// <summary>How many times the chat refused the draft's card (its card_failed events marked chat_refused).</summary>
    private static int Refusals(TelegramHarness h, string id) =>
        h.Host.Store.Events(id).Count(e => e.Type == "card_failed" && e.Details!.Contains("\"chat_refused\":true", StringComparison.Ordinal));
}
