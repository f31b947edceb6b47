using System.Globalization;
using System.Text.Json.Nodes;
using ApprovalBot.Drafts;
using ApprovalBot.Sandbox;
using ApprovalBot.Telegram;
using ApprovalBot.Telegram.Cards;
using ApprovalBot.Tests.Execution;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Tests.Telegram;

/// <summary>The cards out of the approvers' reach that the chat refused at start, sent when Telegram says the bot may post there again.</summary>
public sealed class VanishedCardsOnReadmissionTests
{
    /// <summary>
    /// A new bot for the same chat, not let into it yet (blocked, or not added to the group): the chat refuses the former
    /// bot's cards at start. One send is tried (every other would be refused the same way), logged once at Error, and the
    /// switch stays recorded. Once Telegram says the new bot may post there, each waiting draft gets its card without a
    /// restart, a tap on it decides, and the switch is done; a readmission after that sends nothing again. Before the fix
    /// each card was refused and logged at Error, and they waited for the next start.
    /// </summary>
    [Fact]
    public async Task NewBotNotYetInTheChat_CardsRefusedAtStart_SentWhenTelegramSaysItMayPost_ATapDecidesAndTheSwitchIsDone()
    {
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        var olds = new[] { await h.SubmitCardedAsync("reply:refused-a", "first"), await h.SubmitCardedAsync("reply:refused-b", "second") };
        await using var other = await VanishedCardsTests.OtherBotAsync();
        string[] otherBot = [$"ApprovalBot:Telegram:Token={other.Token}", $"ApprovalBot:Telegram:ApiBaseUrl={other.BaseUrl}"];
        other.Control.RemoveBotFromChat(other.PrivateChatId);

        await h.RestartHostAsync(settings: otherBot);
        Assert.Equal(0, await h.Host.Services.GetRequiredService<VanishedCards>().Done.WaitAsync(TelegramHarness.Wait));

        Assert.Equal(403, Assert.Single(other.Control.GetCalls("sendMessage")).StatusCode);
        var refused = Assert.Single(logs.Entries, e => VanishedCardsTests.OfThePasses(e) && e.Level >= LogLevel.Error);
        Assert.Equal("VanishedCardsWaitOnChat", refused.EventId.Name);
        Assert.Equal(2, Convert.ToInt32(refused.Properties["Count"], CultureInfo.InvariantCulture));
        Assert.NotNull(h.Host.Store.GetSetting(RecordedBot.SwitchKey));
        Assert.Equal(olds[1].MessageId, h.Host.Store.Get("reply:refused-b")!.CardMessageId);

        Assert.True(other.Control.AddBotToChat(other.PrivateChatId));
        var cards = new List<SentMessage>();
        foreach (var id in new[] { "reply:refused-a", "reply:refused-b" })
        {
            cards.Add(await other.Control.WaitForMessageAsync(m => m.Text?.Contains(id, StringComparison.Ordinal) == true && m.AllButtons.Any(), TelegramHarness.Wait));
        }
        // Done after the last card is recorded.
        await Eventually.TrueAsync(() => h.Host.Store.GetSetting(RecordedBot.SwitchKey) is null, "the switch done");

        foreach (var (id, card, old) in new[] { ("reply:refused-a", cards[0], olds[0]), ("reply:refused-b", cards[1], olds[1]) })
        {
            Assert.Equal((h.ChatId, (long?)card.MessageId), (h.Host.Store.Get(id)!.CardChatId!.Value, h.Host.Store.Get(id)!.CardMessageId));
            var moved = JsonNode.Parse(Assert.Single(h.Host.Store.Events(id), e => e.Type == CardRecords.MovedEvent).Details!)!;
            Assert.Equal((CardSender.BotChangedReason, (long?)old.MessageId), ((string?)moved["reason"], (long?)moved["from_message_id"]));
        }
        Assert.Single(logs.Entries, e => e.EventId.Name == "VanishedCardsSentOnReadmission");
        other.Control.PressButton(cards[0].MessageId, TelegramHarness.ButtonData(cards[0], "Approve"));
        await h.WaitForStateAsync("reply:refused-a", DraftState.Approved);

        // Shut out and let in again with nothing left to send: the next card is the outbox's only.
        var sends = other.Control.GetCalls("sendMessage").Count;
        other.Control.RemoveBotFromChat(other.PrivateChatId);
        other.Control.AddBotToChat(other.PrivateChatId);
        await Eventually.TrueAsync(() => logs.Entries.Count(e => e.EventId.Name == "BotLetBackIntoChat") == 2, "the second readmission");
        await h.SubmitAsync("reply:after", "after the readmission");
        await other.Control.WaitForMessageAsync(m => m.Text?.Contains("reply:after", StringComparison.Ordinal) == true, TelegramHarness.Wait);
        Assert.Equal(sends + 1, other.Control.GetCalls("sendMessage").Count);
        Assert.Single(logs.Entries, e => e.EventId.Name == "VanishedCardsSentOnReadmission");
        Assert.Equal(cards[1].MessageId, h.Host.Store.Get("reply:refused-b")!.CardMessageId);
    }

    /// <summary>
    /// A new bot whose first send of a former bot's card fails for a reason of that card's own (here a 400 of its rendering),
    /// then the chat refuses it: a readmission sends the cards the chat refused, and only those. The card lost for its own
    /// reason keeps the switch recorded, and the next start sends it and finishes the switch.
    /// </summary>
    [Fact]
    public async Task NewBot_OneCardLostForItsOwnReasonTheRestRefusedByTheChat_ReadmissionSendsOnlyTheRefused_TheNextStartTheOther()
    {
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        await h.SubmitCardedAsync("reply:own-fault", "lost for its own reason");
        await h.SubmitCardedAsync("reply:chat-b", "refused by the chat");
        await h.SubmitCardedAsync("reply:chat-c", "not tried after the refusal");
        await using var other = await VanishedCardsTests.OtherBotAsync();
        string[] otherBot = [$"ApprovalBot:Telegram:Token={other.Token}", $"ApprovalBot:Telegram:ApiBaseUrl={other.BaseUrl}"];
        other.Control.RemoveBotFromChat(other.PrivateChatId);
        other.Control.InjectFault("sendMessage", SandboxFault.Error(400, "Bad Request: can't parse entities: unexpected end tag"));

        await h.RestartHostAsync(settings: otherBot);
        Assert.Equal(0, await h.Host.Services.GetRequiredService<VanishedCards>().Done.WaitAsync(TelegramHarness.Wait));
        Assert.Equal([400, 403], other.Control.GetCalls("sendMessage").Select(c => c.StatusCode));

        other.Control.AddBotToChat(other.PrivateChatId);
        await Eventually.TrueAsync(() => logs.Entries.Any(e => e.EventId.Name == "VanishedCardsSentOnReadmission"), "the pass at readmission");

        var sent = other.Control.GetMessages(other.PrivateChatId);
        Assert.Equal(2, sent.Count);
        foreach (var id in new[] { "reply:chat-b", "reply:chat-c" })
        {
            var card = Assert.Single(sent, m => m.Text!.Contains(id, StringComparison.Ordinal));
            Assert.Equal(card.MessageId, h.Host.Store.Get(id)!.CardMessageId);
        }
        Assert.DoesNotContain(h.Host.Store.Events("reply:own-fault"), e => e.Type == CardRecords.MovedEvent);
        Assert.NotNull(h.Host.Store.GetSetting(RecordedBot.SwitchKey));

        await h.RestartHostAsync(settings: otherBot);
        Assert.Equal(1, await h.Host.Services.GetRequiredService<VanishedCards>().Done.WaitAsync(TelegramHarness.Wait));
        var moved = JsonNode.Parse(Assert.Single(h.Host.Store.Events("reply:own-fault"), e => e.Type == CardRecords.MovedEvent).Details!)!;
        Assert.Equal(CardSender.BotChangedReason, (string?)moved["reason"]);
        Assert.Null(h.Host.Store.GetSetting(RecordedBot.SwitchKey));
        Assert.Equal(3, other.Control.GetMessages(other.PrivateChatId).Count);
    }

    /// <summary>
    /// ChatId changed to a group the bot is not in: the card is refused at start and waits on the chat. A word from Telegram
    /// that the bot may post there while the group still refuses it costs one try, logged at Warning, and the draft waits
    /// on; once the bot is added, its card is sent into the group and a tap there decides.
    /// </summary>
    [Fact]
    public async Task ChatIdChangedToAGroupWithoutTheBot_AnEarlyWordStillRefusedWaitsOn_SentOnceTheBotIsAddedAndATapDecides()
    {
        const string id = "reply:new-group";
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        var old = await h.SubmitCardedAsync(id, "moved to a group the bot is not in yet");
        var group = h.Sandbox.Settings.GroupChatId;

        await h.RestartHostAsync(whileStopped: () => h.Control.RemoveBotFromChat(group), settings: [$"ApprovalBot:Telegram:ChatId={group}"]);
        Assert.Equal(0, await h.Host.Services.GetRequiredService<VanishedCards>().Done.WaitAsync(TelegramHarness.Wait));
        Assert.Equal(old.MessageId, h.Host.Store.Get(id)!.CardMessageId);

        h.Control.EnqueueRawUpdate(new JsonObject
        {
            ["update_id"] = 0,
            ["my_chat_member"] = new JsonObject
            {
                ["chat"] = new JsonObject { ["id"] = group, ["title"] = "Approvers", ["type"] = "group" },
                ["from"] = new JsonObject { ["id"] = h.Control.ApproverId, ["is_bot"] = false, ["first_name"] = "Approver" },
                ["date"] = 1_800_000_000,
                ["old_chat_member"] = new JsonObject { ["status"] = "left", ["user"] = new JsonObject { ["id"] = h.Control.BotId, ["is_bot"] = true, ["first_name"] = "Bot" } },
                ["new_chat_member"] = new JsonObject { ["status"] = "member", ["user"] = new JsonObject { ["id"] = h.Control.BotId, ["is_bot"] = true, ["first_name"] = "Bot" } },
            },
        }.ToJsonString());
        await Eventually.TrueAsync(() => logs.Entries.Any(e => e.EventId.Name == "VanishedCardsStillWaitOnChat"), "the early word refused");
        Assert.Equal(2, h.Control.GetCalls("sendMessage").Count(c => c.StatusCode == 403));
        Assert.Empty(h.Control.GetMessages(group));

        h.Control.AddBotToChat(group);
        var card = await h.Control.WaitForMessageAsync(m => m.ChatId == group && m.Text?.Contains(id, StringComparison.Ordinal) == true && m.AllButtons.Any(), TelegramHarness.Wait);
        await Eventually.TrueAsync(() => h.Host.Store.Get(id) is { CardChatId: { } chatId, CardMessageId: { } message } && (chatId, message) == (group, card.MessageId),
            "the card in the group recorded");
        var moved = JsonNode.Parse(Assert.Single(h.Host.Store.Events(id), e => e.Type == CardRecords.MovedEvent).Details!)!;
        Assert.Equal((CardSender.ChatChangedReason, (long?)h.ChatId), ((string?)moved["reason"], (long?)moved["from_chat_id"]));
        h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"), chatId: group);
        await h.WaitForStateAsync(id, DraftState.Approved);
    }

    /// <summary>
    /// A burst of words that the bot may post again (Telegram's, and more at once) while cards wait on the chat: one pass,
    /// never two side by side, so each card is sent once.
    /// </summary>
    [Fact]
    public async Task CardsWaitingOnTheChat_ABurstOfReadmissions_OnePassEachCardSentOnce()
    {
        string[] ids = ["reply:burst-a", "reply:burst-b", "reply:burst-c"];
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        foreach (var id in ids)
        {
            await h.SubmitCardedAsync(id, "waits on the new chat");
        }
        var group = h.Sandbox.Settings.GroupChatId;
        await h.RestartHostAsync(whileStopped: () => h.Control.RemoveBotFromChat(group), settings: [$"ApprovalBot:Telegram:ChatId={group}"]);
        Assert.Equal(0, await h.Host.Services.GetRequiredService<VanishedCards>().Done.WaitAsync(TelegramHarness.Wait));

        h.Control.AddBotToChat(group);
        var readmission = h.Host.Services.GetRequiredService<ChatReadmission>();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(readmission.Announce)));
        await Eventually.TrueAsync(() => logs.Entries.Any(e => e.EventId.Name == "BotLetBackIntoChat"), "Telegram's word");
        await Eventually.TrueAsync(() => ids.All(id => h.Host.Store.Get(id)!.CardChatId == group), "every card in the group");

        Assert.Single(logs.Entries, e => e.EventId.Name == "VanishedCardsSentOnReadmission");
        Assert.Equal(ids.Length, h.Control.GetMessages(group).Count);
        Assert.All(ids, id => Assert.Single(h.Host.Store.Events(id), e => e.Type == CardRecords.MovedEvent));
    }
}
