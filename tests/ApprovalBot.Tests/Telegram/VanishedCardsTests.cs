using System.Globalization;
using System.Text.Json.Nodes;
using ApprovalBot.Drafts;
using ApprovalBot.Sandbox;
using ApprovalBot.Telegram;
using ApprovalBot.Telegram.Cards;
using ApprovalBot.Telegram.Sandbox;
using ApprovalBot.Telegram.Updates;
using ApprovalBot.Tests.Execution;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Tests.Telegram;

public sealed class VanishedCardsTests
{
    [Fact]
    public async Task RealBot_Restart_TheCardStaysTheCardOnRecordAndNothingIsSentAgain()
    {
        // A real chat (here a standalone sandbox the restart leaves running) keeps its messages.
        await using var h = await TelegramHarness.StartAsync();
        var card = await h.SubmitCardedAsync("reply:kept", "kept across the restart");

        await h.RestartHostAsync();
        var resent = await h.Host.Services.GetRequiredService<VanishedCards>().Done.WaitAsync(TelegramHarness.Wait);

        Assert.Equal(0, resent);
        Assert.Null(h.Host.Services.GetRequiredService<TelegramChat>().FreshSandboxFirstMessageId);
        Assert.Equal(card.MessageId, h.Host.Store.Get("reply:kept")!.CardMessageId);
        Assert.DoesNotContain(h.Host.Store.Events("reply:kept"), e => e.Type == CardSender.MovedEvent);
        Assert.Single(h.Control.GetCalls("sendMessage"));
    }

    [Fact]
    public async Task SandboxRestartedTwice_EachStartSendsTheCardAgainAboveEveryEarlierCard()
    {
        using var data = new TempDirectory();
        var cards = new List<long>();
        await using (var first = await StartAsync(data.Path))
        {
            await using var client = await first.ConnectAsync();
            Assert.True((await client.SubmitAsync(new Client.DraftSubmission { Id = "reply:twice", Kind = "reply", Agent = "a", Text = "still waiting" })).Ok);
            cards.Add((await first.WaitForStateAsync("reply:twice", DraftState.Carded, TelegramHarness.Wait)).CardMessageId!.Value);
        }
        for (var start = 0; start < 2; start++)
        {
            await using var host = await StartAsync(data.Path);
            var resent = await host.Services.GetRequiredService<VanishedCards>().Done.WaitAsync(TelegramHarness.Wait);
            var sandbox = host.Services.GetRequiredService<BuiltInSandbox>().Server!;
            var draft = host.Store.Get("reply:twice")!;

            Assert.Equal(1, resent);
            var message = sandbox.Control.GetMessage(sandbox.PrivateChatId, (int)draft.CardMessageId!.Value);
            Assert.NotNull(message);
            Assert.NotEmpty(message.AllButtons);
            Assert.True(draft.CardMessageId > cards[^1], $"card {draft.CardMessageId} after {cards[^1]}");
            Assert.True(draft.CardShowsCurrentState);
            var moved = JsonNode.Parse(host.Store.Events("reply:twice").Last(e => e.Type == CardSender.MovedEvent).Details!)!;
            Assert.Equal(cards[^1], (long?)moved["from_message_id"]);
            // The built-in sandbox is the same bot at every start: its cards are lost with it, not another bot's.
            Assert.Equal(CardSender.SandboxRestartedReason, (string?)moved["reason"]);
            Assert.Equal(RecordedBot.Sandbox, host.Store.GetSetting(RecordedBot.BotKey));
            Assert.Equal(start + 1, host.Store.Events("reply:twice").Count(e => e.Type == CardSender.MovedEvent));
            cards.Add(draft.CardMessageId.Value);
        }
    }

    /// <summary>
    /// Tried out with the built-in sandbox, then given a real bot: the card of a draft still awaiting a decision was only
    /// ever in the sandbox's chat, which the real chat never saw. It stayed carded there, with the sandbox's message id,
    /// and nothing gave the approver a button to tap; now it is sent into the real chat and recorded as its card.
    /// </summary>
    [Fact]
    public async Task SandboxThenRealBot_CardShownOnlyInTheSandbox_SentIntoTheRealChatAndDecidedThere()
    {
        using var data = new TempDirectory();
        Draft before;
        await using (var sandboxRun = await StartAsync(data.Path))
        {
            await using var client = await sandboxRun.ConnectAsync();
            Assert.True((await client.SubmitAsync(new Client.DraftSubmission { Id = "reply:switched", Kind = "reply", Agent = "a", Text = "seen in the sandbox only" })).Ok);
            before = await sandboxRun.WaitForStateAsync("reply:switched", DraftState.Carded, TelegramHarness.Wait);
        }
        await using var real = await SandboxServer.StartAsync(
            new SandboxSettings { Url = "http://127.0.0.1:0", RateLimits = false, ApproverId = 4242 }, loggerFactory: null, TimeProvider.System);

        await using var host = await TestHost.StartAsync(settings: TelegramHarness.SettingsFor(real), dataDirectory: data.Path, compose: b => b.AddTelegram());
        var resent = await host.Services.GetRequiredService<VanishedCards>().Done.WaitAsync(TelegramHarness.Wait);

        Assert.Equal(1, resent);
        var draft = host.Store.Get("reply:switched")!;
        Assert.Equal((DraftState.Carded, 4242L), (draft.State, draft.CardChatId!.Value));
        var card = real.Control.GetMessage(4242, (int)draft.CardMessageId!.Value);
        Assert.NotNull(card);
        Assert.NotEmpty(card.AllButtons);
        var moved = JsonNode.Parse(host.Store.Events("reply:switched").Single(e => e.Type == CardSender.MovedEvent).Details!)!;
        Assert.Equal(CardSender.ChatChangedReason, (string?)moved["reason"]);
        Assert.Equal((before.CardChatId, before.CardMessageId), ((long?)moved["from_chat_id"], (long?)moved["from_message_id"]));
        real.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"), fromUserId: 4242, chatId: 4242);
        await host.WaitForStateAsync("reply:switched", DraftState.Approved, TelegramHarness.Wait);
    }

    /// <summary>
    /// ChatId changed to another chat (here the bot's group): the carded draft's card is sent there; a draft decided before
    /// the change keeps its card where it is, and a card sent by this run is not sent again.
    /// </summary>
    [Fact]
    public async Task ChatIdChanged_CardsOfDraftsAwaitingADecisionSentIntoTheNewChatOnly()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.SubmitCardedAsync("reply:waiting", "still waiting");
        var decided = await h.SubmitCardedAsync("reply:decided", "decided before the change");
        h.Control.PressButton(decided.MessageId, TelegramHarness.ButtonData(decided, "Reject"));
        await h.WaitForStateAsync("reply:decided", DraftState.Rejected);
        var group = h.Sandbox.Settings.GroupChatId;

        await h.RestartHostAsync(settings: [$"ApprovalBot:Telegram:ChatId={group}"]);
        var resent = await h.Host.Services.GetRequiredService<VanishedCards>().Done.WaitAsync(TelegramHarness.Wait);

        Assert.Equal(1, resent);
        var waiting = h.Host.Store.Get("reply:waiting")!;
        Assert.Equal(group, waiting.CardChatId);
        Assert.NotEmpty(h.Control.GetMessage(group, (int)waiting.CardMessageId!.Value)!.AllButtons);
        Assert.Equal(h.ChatId, h.Host.Store.Get("reply:decided")!.CardChatId);
        Assert.DoesNotContain(h.Host.Store.Events("reply:decided"), e => e.Type == CardSender.MovedEvent);
        Assert.Single(h.Control.GetMessages(group));
    }

    /// <summary>
    /// ChatId changed, and Telegram takes the card sent into the new chat but its answer cannot be read (a proxy mangling it):
    /// the card is most likely there, so it is not sent again after the backoff (each try would post another copy, and say at
    /// last that the draft has no card to tap). It is recorded as sent unconfirmed: no message on record, the chat it went to,
    /// why; a tap on the copy decides and makes it the card on record.
    /// </summary>
    [Fact]
    public async Task ChatIdChanged_SendAnsweredUnreadable_NotSentAgainRecordedUnconfirmedAndATapOnTheCopyDecides()
    {
        const string id = "reply:unreadable-move";
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        var old = await h.SubmitCardedAsync(id, "moved with an unreadable answer");
        var group = h.Sandbox.Settings.GroupChatId;
        h.Control.InjectFault("sendMessage", SandboxFault.ResponseLost(ResponseLossMode.Unreadable), times: 3);

        await h.RestartHostAsync(settings: [$"ApprovalBot:Telegram:ChatId={group}"]);
        var resent = await h.Host.Services.GetRequiredService<VanishedCards>().Done.WaitAsync(TelegramHarness.Wait);

        Assert.Equal(0, resent);
        var copy = Assert.Single(h.Control.GetMessages(group));
        var draft = h.Host.Store.Get(id)!;
        Assert.Equal((DraftState.Carded, group, (long?)null), (draft.State, draft.CardChatId, draft.CardMessageId));
        Assert.Contains($"most likely in chat {group}", draft.CardError, StringComparison.Ordinal);
        var unconfirmed = JsonNode.Parse(Assert.Single(h.Host.Store.Events(id), e => e.Type == CardSender.UnconfirmedEvent).Details!)!;
        Assert.Equal(CardSender.ChatChangedReason, (string?)unconfirmed["reason"]);
        Assert.Equal((h.ChatId, old.MessageId, group), ((long?)unconfirmed["from_chat_id"], (long?)unconfirmed["from_message_id"], (long?)unconfirmed["chat_id"]));
        Assert.Equal(LogLevel.Warning, Assert.Single(logs.Entries, e => e.EventId.Name == "VanishedCardOutcomeUnknown").Level);
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Error && e.Category == typeof(VanishedCards).FullName);

        h.Control.PressButton(copy.MessageId, TelegramHarness.ButtonData(copy, "Approve"), chatId: group);
        var approved = await h.WaitForStateAsync(id, DraftState.Approved);
        Assert.Equal((group, copy.MessageId, (string?)null), (approved.CardChatId!.Value, approved.CardMessageId!.Value, approved.CardError));
        await h.Control.WaitForEditAsync(group, copy.MessageId, TelegramHarness.Wait, m => m.Buttons.Count == 0);

        // The next start sends nothing again: the copy is in the approvers' chat, by this bot.
        await h.RestartHostAsync(settings: [$"ApprovalBot:Telegram:ChatId={group}"]);
        Assert.Equal(0, await h.Host.Services.GetRequiredService<VanishedCards>().Done.WaitAsync(TelegramHarness.Wait));
        Assert.Single(h.Control.GetMessages(group));
    }

    /// <summary>
    /// ChatId changed, and a long draft's file, sent before its card, gets an answer that cannot be read: the file most likely
    /// went out, the card with its buttons never did. So the card is sent (file and card once more, as the outbox does) and
    /// recorded; before the fix the pass took the file's answer for the card's, recorded the draft as sent unconfirmed ("most
    /// likely in chat …") with no card on record, and no start ever sent it: the approvers had a file and nothing to tap.
    /// </summary>
    [Fact]
    public async Task ChatIdChanged_LongDraftsFileAnsweredUnreadable_CardStillSentAndRecorded()
    {
        const string id = "long:file-unreadable-move";
        await using var h = await TelegramHarness.StartAsync();
        await h.SubmitAsync(id, new string('x', 9_000), kind: "long");
        await h.WaitForCardAsync(id);
        await h.WaitForStateAsync(id, DraftState.Carded);
        var group = h.Sandbox.Settings.GroupChatId;
        h.Control.InjectFault("sendDocument", SandboxFault.ResponseLost(ResponseLossMode.Unreadable));

        await h.RestartHostAsync(settings: [$"ApprovalBot:Telegram:ChatId={group}"]);
        var resent = await h.Host.Services.GetRequiredService<VanishedCards>().Done.WaitAsync(TelegramHarness.Wait);

        Assert.Equal(1, resent);
        var draft = h.Host.Store.Get(id)!;
        Assert.Equal((DraftState.Carded, group, (string?)null), (draft.State, draft.CardChatId, draft.CardError));
        var card = h.Control.GetMessage(group, (int)draft.CardMessageId!.Value);
        Assert.NotNull(card);
        Assert.NotEmpty(card.AllButtons);
        Assert.DoesNotContain(h.Host.Store.Events(id), e => e.Type == CardSender.UnconfirmedEvent);
        var moved = JsonNode.Parse(Assert.Single(h.Host.Store.Events(id), e => e.Type == CardSender.MovedEvent).Details!)!;
        Assert.Equal(CardSender.ChatChangedReason, (string?)moved["reason"]);
        Assert.Equal(2, h.Control.GetMessages(group).Count(m => m.Document is not null));
    }

    /// <summary>
    /// The token changed to another bot, the chat id did not: the old bot's card is still in that chat, but its buttons reach
    /// the old bot only, and only it can edit the card. The draft still awaiting a decision gets its card from the new bot
    /// (bot_changed); a draft decided before keeps its card; a plain restart after that sends nothing again.
    /// </summary>
    [Fact]
    public async Task NewBotSameChat_CardOfADraftAwaitingADecisionSentAgainByTheNewBot_APlainRestartSendsNothing()
    {
        await using var h = await TelegramHarness.StartAsync();
        var old = await h.SubmitCardedAsync("reply:new-bot", "still waiting");
        var decided = await h.SubmitCardedAsync("reply:decided", "decided before the change");
        var reject = h.Control.PressButton(decided.MessageId, TelegramHarness.ButtonData(decided, "Reject"));
        await h.WaitForStateAsync("reply:decided", DraftState.Rejected);
        await h.Control.WaitForUpdateConfirmedAsync(reject.UpdateId, TelegramHarness.Wait);
        var firstBotsOffset = long.Parse(h.Host.Store.GetSetting(UpdatePoller.OffsetSetting)!, CultureInfo.InvariantCulture);
        Assert.Equal("123456", h.Host.Store.GetSetting(RecordedBot.BotKey));
        await using var other = await OtherBotAsync();
        string[] otherBot = [$"ApprovalBot:Telegram:Token={other.Token}", $"ApprovalBot:Telegram:ApiBaseUrl={other.BaseUrl}"];

        await h.RestartHostAsync(settings: otherBot);
        var resent = await h.Host.Services.GetRequiredService<VanishedCards>().Done.WaitAsync(TelegramHarness.Wait);

        Assert.Equal(1, resent);
        var draft = h.Host.Store.Get("reply:new-bot")!;
        Assert.Equal(h.ChatId, draft.CardChatId);
        var card = other.Control.GetMessage(other.PrivateChatId, (int)draft.CardMessageId!.Value);
        Assert.NotNull(card);
        Assert.NotEmpty(card.AllButtons);
        var moved = JsonNode.Parse(Assert.Single(h.Host.Store.Events("reply:new-bot"), e => e.Type == CardSender.MovedEvent).Details!)!;
        Assert.Equal(CardSender.BotChangedReason, (string?)moved["reason"]);
        Assert.Equal((h.ChatId, old.MessageId), ((long?)moved["from_chat_id"], (long?)moved["from_message_id"]));
        Assert.DoesNotContain(h.Host.Store.Events("reply:decided"), e => e.Type == CardSender.MovedEvent);
        Assert.Equal(("654321", (string?)null), (h.Host.Store.GetSetting(RecordedBot.BotKey), h.Host.Store.GetSetting(RecordedBot.SwitchKey)));
        Assert.Single(h.Host.Store.EventsOfType(RecordedBot.ChangedEvent));

        await h.RestartHostAsync(settings: otherBot);
        Assert.Equal(0, await h.Host.Services.GetRequiredService<VanishedCards>().Done.WaitAsync(TelegramHarness.Wait));
        Assert.Equal(draft.CardMessageId, h.Host.Store.Get("reply:new-bot")!.CardMessageId);
        Assert.Single(other.Control.GetCalls("sendMessage"));
        // The first bot's update offset went with the switch: the new bot's lower update ids are polled.
        var press = other.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        Assert.True(press.UpdateId < firstBotsOffset, $"update {press.UpdateId} below the first bot's offset {firstBotsOffset}");
        await h.WaitForStateAsync("reply:new-bot", DraftState.Approved);
    }

    /// <summary>
    /// Tried out with the built-in sandbox with ChatId set to the chat the real bot then uses (here the same id): the card on
    /// record is in "the approvers' chat" by id, but it is the sandbox's message, which the real chat never saw. It is sent
    /// into the real chat (bot_changed), as a card of a former chat is.
    /// </summary>
    [Fact]
    public async Task SandboxWithChatIdThenRealBotForTheSameChatId_CardSentIntoTheRealChat()
    {
        using var data = new TempDirectory();
        await using (var sandboxRun = await TestHost.StartAsync(
            settings: ["ApprovalBot:Sandbox:Url=http://127.0.0.1:0", "ApprovalBot:Sandbox:RateLimits=false", "ApprovalBot:Telegram:ChatId=1001"],
            dataDirectory: data.Path, compose: b => b.AddTelegram()))
        {
            await using var client = await sandboxRun.ConnectAsync();
            Assert.True((await client.SubmitAsync(new Client.DraftSubmission { Id = "reply:same-id", Kind = "reply", Agent = "a", Text = "seen in the sandbox only" })).Ok);
            Assert.Equal(1001, (await sandboxRun.WaitForStateAsync("reply:same-id", DraftState.Carded, TelegramHarness.Wait)).CardChatId);
        }
        await using var real = await SandboxServer.StartAsync(
            new SandboxSettings { Url = "http://127.0.0.1:0", RateLimits = false, ApproverId = 1001 }, loggerFactory: null, TimeProvider.System);

        await using var host = await TestHost.StartAsync(settings: TelegramHarness.SettingsFor(real), dataDirectory: data.Path, compose: b => b.AddTelegram());
        var resent = await host.Services.GetRequiredService<VanishedCards>().Done.WaitAsync(TelegramHarness.Wait);

        Assert.Equal(1, resent);
        var draft = host.Store.Get("reply:same-id")!;
        var card = real.Control.GetMessage(1001, (int)draft.CardMessageId!.Value);
        Assert.NotNull(card);
        Assert.NotEmpty(card.AllButtons);
        var moved = JsonNode.Parse(Assert.Single(host.Store.Events("reply:same-id"), e => e.Type == CardSender.MovedEvent).Details!)!;
        Assert.Equal(CardSender.BotChangedReason, (string?)moved["reason"]);
        var change = JsonNode.Parse(Assert.Single(host.Store.EventsOfType(RecordedBot.ChangedEvent)).Details!)!;
        Assert.Equal((RecordedBot.Sandbox, "123456"), ((string?)change["from"], (string?)change["to"]));
    }

    /// <summary>
    /// A new bot whose send of a former bot's card fails for good: the switch stays recorded, so the next start sends that card
    /// (and only it: a card the new bot sent meanwhile is recorded after the switch, and is not sent again).
    /// </summary>
    [Fact]
    public async Task NewBot_CardNotSentAgain_TheNextStartSendsItButNotTheNewBotsOwnCards()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.SubmitCardedAsync("reply:switch-left", "the former bot's card");
        await using var other = await OtherBotAsync();
        string[] otherBot = [$"ApprovalBot:Telegram:Token={other.Token}", $"ApprovalBot:Telegram:ApiBaseUrl={other.BaseUrl}"];
        other.Control.InjectFault("sendMessage", SandboxFault.Error(400, "Bad Request: can't parse entities: unexpected end tag"));

        await h.RestartHostAsync(settings: otherBot);
        Assert.Equal(0, await h.Host.Services.GetRequiredService<VanishedCards>().Done.WaitAsync(TelegramHarness.Wait));
        Assert.NotNull(h.Host.Store.GetSetting(RecordedBot.SwitchKey));
        await h.SubmitAsync("reply:new-bots-own", "carded by the new bot");
        var own = await h.WaitForStateAsync("reply:new-bots-own", DraftState.Carded);

        await h.RestartHostAsync(settings: otherBot);
        Assert.Equal(1, await h.Host.Services.GetRequiredService<VanishedCards>().Done.WaitAsync(TelegramHarness.Wait));

        var moved = JsonNode.Parse(Assert.Single(h.Host.Store.Events("reply:switch-left"), e => e.Type == CardSender.MovedEvent).Details!)!;
        Assert.Equal(CardSender.BotChangedReason, (string?)moved["reason"]);
        Assert.Equal(own.CardMessageId, h.Host.Store.Get("reply:new-bots-own")!.CardMessageId);
        Assert.DoesNotContain(h.Host.Store.Events("reply:new-bots-own"), e => e.Type == CardSender.MovedEvent);
        Assert.Null(h.Host.Store.GetSetting(RecordedBot.SwitchKey));
    }

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
        await using var other = await OtherBotAsync();
        string[] otherBot = [$"ApprovalBot:Telegram:Token={other.Token}", $"ApprovalBot:Telegram:ApiBaseUrl={other.BaseUrl}"];
        other.Control.RemoveBotFromChat(other.PrivateChatId);

        await h.RestartHostAsync(settings: otherBot);
        Assert.Equal(0, await h.Host.Services.GetRequiredService<VanishedCards>().Done.WaitAsync(TelegramHarness.Wait));

        Assert.Equal(403, Assert.Single(other.Control.GetCalls("sendMessage")).StatusCode);
        var refused = Assert.Single(logs.Entries, e => e.Category == typeof(VanishedCards).FullName && e.Level >= LogLevel.Error);
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
            var moved = JsonNode.Parse(Assert.Single(h.Host.Store.Events(id), e => e.Type == CardSender.MovedEvent).Details!)!;
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
        await using var other = await OtherBotAsync();
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
        Assert.DoesNotContain(h.Host.Store.Events("reply:own-fault"), e => e.Type == CardSender.MovedEvent);
        Assert.NotNull(h.Host.Store.GetSetting(RecordedBot.SwitchKey));

        await h.RestartHostAsync(settings: otherBot);
        Assert.Equal(1, await h.Host.Services.GetRequiredService<VanishedCards>().Done.WaitAsync(TelegramHarness.Wait));
        var moved = JsonNode.Parse(Assert.Single(h.Host.Store.Events("reply:own-fault"), e => e.Type == CardSender.MovedEvent).Details!)!;
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
        var moved = JsonNode.Parse(Assert.Single(h.Host.Store.Events(id), e => e.Type == CardSender.MovedEvent).Details!)!;
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
        Assert.All(ids, id => Assert.Single(h.Host.Store.Events(id), e => e.Type == CardSender.MovedEvent));
    }

    /// <summary>
    /// A store an earlier build ran records no bot: the first start records this one and takes the cards on record for its
    /// own, sending nothing again (a switch of bots made in the same upgrade is not told apart; README).
    /// </summary>
    [Fact]
    public async Task StoreOfAnEarlierBuild_NoBotRecorded_TheBotIsRecordedAndNothingSentAgain()
    {
        await using var h = await TelegramHarness.StartAsync();
        var card = await h.SubmitCardedAsync("reply:older-build", "carded by an earlier build");

        await h.RestartHostAsync(whileStopped: () => DraftFixtures.Sql(h.DataDirectory, $"DELETE FROM settings WHERE key = '{RecordedBot.BotKey}'"));
        var resent = await h.Host.Services.GetRequiredService<VanishedCards>().Done.WaitAsync(TelegramHarness.Wait);

        Assert.Equal(0, resent);
        Assert.Equal("123456", h.Host.Store.GetSetting(RecordedBot.BotKey));
        Assert.Equal(card.MessageId, h.Host.Store.Get("reply:older-build")!.CardMessageId);
        Assert.Single(h.Control.GetCalls("sendMessage"));
        Assert.Empty(h.Host.Store.EventsOfType(RecordedBot.ChangedEvent));
    }

    /// <summary>
    /// Another bot (its own token and id) serving the same chat ids as the harness's sandbox, whose update ids start far below
    /// the offset the first bot's updates left in the store: the new bot's taps reach the service only if that offset went.
    /// Its token's secret must not hold "bot": the sandbox's route bot{token} would then not match.
    /// </summary>
    private static Task<SandboxServer> OtherBotAsync() => SandboxServer.StartAsync(
        new SandboxSettings { Url = "http://127.0.0.1:0", RateLimits = false, Token = "654321:OTHER-token", FirstUpdateId = 1 }, loggerFactory: null, TimeProvider.System);

    private static Task<TestHost> StartAsync(string dataDirectory) =>
        TestHost.StartAsync(
            settings: ["ApprovalBot:Sandbox:Url=http://127.0.0.1:0", "ApprovalBot:Sandbox:RateLimits=false"],
            dataDirectory: dataDirectory,
            compose: b => b.AddTelegram());
}
