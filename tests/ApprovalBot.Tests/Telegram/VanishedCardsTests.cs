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
        Assert.DoesNotContain(h.Host.Store.Events("reply:kept"), e => e.Type == CardRecords.MovedEvent);
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
            var moved = JsonNode.Parse(host.Store.Events("reply:twice").Last(e => e.Type == CardRecords.MovedEvent).Details!)!;
            Assert.Equal(cards[^1], (long?)moved["from_message_id"]);
            // The built-in sandbox is the same bot at every start: its cards are lost with it, not another bot's.
            Assert.Equal(CardSender.SandboxRestartedReason, (string?)moved["reason"]);
            Assert.Equal(RecordedBot.Sandbox, host.Store.GetSetting(RecordedBot.BotKey));
            Assert.Equal(start + 1, host.Store.Events("reply:twice").Count(e => e.Type == CardRecords.MovedEvent));
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
        var moved = JsonNode.Parse(host.Store.Events("reply:switched").Single(e => e.Type == CardRecords.MovedEvent).Details!)!;
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
        Assert.DoesNotContain(h.Host.Store.Events("reply:decided"), e => e.Type == CardRecords.MovedEvent);
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
        var unconfirmed = JsonNode.Parse(Assert.Single(h.Host.Store.Events(id), e => e.Type == CardRecords.UnconfirmedEvent).Details!)!;
        Assert.Equal(CardSender.ChatChangedReason, (string?)unconfirmed["reason"]);
        Assert.Equal((h.ChatId, old.MessageId, group), ((long?)unconfirmed["from_chat_id"], (long?)unconfirmed["from_message_id"], (long?)unconfirmed["chat_id"]));
        Assert.Equal(LogLevel.Warning, Assert.Single(logs.Entries, e => e.EventId.Name == "VanishedCardOutcomeUnknown").Level);
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Error && OfThePasses(e));

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
        Assert.DoesNotContain(h.Host.Store.Events(id), e => e.Type == CardRecords.UnconfirmedEvent);
        var moved = JsonNode.Parse(Assert.Single(h.Host.Store.Events(id), e => e.Type == CardRecords.MovedEvent).Details!)!;
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
        var moved = JsonNode.Parse(Assert.Single(h.Host.Store.Events("reply:new-bot"), e => e.Type == CardRecords.MovedEvent).Details!)!;
        Assert.Equal(CardSender.BotChangedReason, (string?)moved["reason"]);
        Assert.Equal((h.ChatId, old.MessageId), ((long?)moved["from_chat_id"], (long?)moved["from_message_id"]));
        Assert.DoesNotContain(h.Host.Store.Events("reply:decided"), e => e.Type == CardRecords.MovedEvent);
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
        var moved = JsonNode.Parse(Assert.Single(host.Store.Events("reply:same-id"), e => e.Type == CardRecords.MovedEvent).Details!)!;
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

        var moved = JsonNode.Parse(Assert.Single(h.Host.Store.Events("reply:switch-left"), e => e.Type == CardRecords.MovedEvent).Details!)!;
        Assert.Equal(CardSender.BotChangedReason, (string?)moved["reason"]);
        Assert.Equal(own.CardMessageId, h.Host.Store.Get("reply:new-bots-own")!.CardMessageId);
        Assert.DoesNotContain(h.Host.Store.Events("reply:new-bots-own"), e => e.Type == CardRecords.MovedEvent);
        Assert.Null(h.Host.Store.GetSetting(RecordedBot.SwitchKey));
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
    /// <summary>Logged by the passes over the cards out of reach: the start's, those at readmission, or a send of either.</summary>
    internal static bool OfThePasses(CapturedLogs.Entry entry) =>
        entry.Category == typeof(VanishedCards).FullName || entry.Category == typeof(VanishedCardsOnReadmission).FullName
        || entry.Category == typeof(VanishedCardResender).FullName;

    internal static Task<SandboxServer> OtherBotAsync() => SandboxServer.StartAsync(
        new SandboxSettings { Url = "http://127.0.0.1:0", RateLimits = false, Token = "654321:OTHER-token", FirstUpdateId = 1 }, loggerFactory: null, TimeProvider.System);

    private static Task<TestHost> StartAsync(string dataDirectory) =>
        TestHost.StartAsync(
            settings: ["ApprovalBot:Sandbox:Url=http://127.0.0.1:0", "ApprovalBot:Sandbox:RateLimits=false"],
            dataDirectory: dataDirectory,
            compose: b => b.AddTelegram());
}
