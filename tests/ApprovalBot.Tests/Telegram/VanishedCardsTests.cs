using System.Text.Json.Nodes;
using ApprovalBot.Drafts;
using ApprovalBot.Sandbox;
using ApprovalBot.Telegram;
using ApprovalBot.Telegram.Cards;
using ApprovalBot.Telegram.Sandbox;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

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

    private static Task<TestHost> StartAsync(string dataDirectory) =>
        TestHost.StartAsync(
            settings: ["ApprovalBot:Sandbox:Url=http://127.0.0.1:0", "ApprovalBot:Sandbox:RateLimits=false"],
            dataDirectory: dataDirectory,
            compose: b => b.AddTelegram());
}
