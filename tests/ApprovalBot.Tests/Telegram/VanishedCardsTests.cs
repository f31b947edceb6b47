using System.Text.Json.Nodes;
using ApprovalBot.Drafts;
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

    private static Task<TestHost> StartAsync(string dataDirectory) =>
        TestHost.StartAsync(
            settings: ["ApprovalBot:Sandbox:Url=http://127.0.0.1:0", "ApprovalBot:Sandbox:RateLimits=false"],
            dataDirectory: dataDirectory,
            compose: b => b.AddTelegram());
}
