using System.Text.RegularExpressions;
using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Pipe.Operations;
using ApprovalBot.Sandbox;
using ApprovalBot.Tests.Cli;
using ApprovalBot.Tests.Infrastructure;
using ApprovalBot.Tests.Telegram;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalBot.Tests.Pipe;

/// <summary>
/// A withdrawal where the approver and the agent see it: the host with the pipe and Telegram against the sandbox over HTTP,
/// on a clock the test moves (so the card's times and the outbox's retries are the test's). The card, a tap on it
/// afterwards, the agent's <c>wait</c>, <c>approvalctl wait</c>, and a draft withdrawn before its card went out.
/// </summary>
public sealed class CancelEndToEndTests : IAsyncLifetime
{
    private readonly ManualTimeProvider _clock = new(DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
    private TelegramHarness _harness = null!;

    public async Task InitializeAsync() => _harness = await TelegramHarness.StartAsync(
        settings: ["ApprovalBot:Telegram:CardSweepSeconds=60"],
        services: s => s.AddSingleton<TimeProvider>(_clock));

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    private TestHost Host => _harness.Host;

    private SandboxControl Control => _harness.Control;

    private Task<SentMessage> WithdrawnCardAsync(SentMessage card) =>
        Control.WaitForEditAsync(card.ChatId, card.MessageId, TelegramHarness.Wait,
            m => m.Buttons.Count == 0 && m.Text!.Contains("🚫 Withdrawn by the agent at ", StringComparison.Ordinal));

    private async Task<Response> CancelAsync(string id, string? reason)
    {
        await using var agent = await Host.ConnectAsync();
        var response = await agent.CancelAsync(id, reason);
        Assert.True(response.Ok, response.Error?.Message);
        return response;
    }

    [Fact]
    public async Task CardedDraftWithdrawn_CardSaysByTheAgentAndWhyWithoutButtons_EveryWaitReturnsCancelled()
    {
        const string id = "reply:thread-deleted";
        var card = await _harness.SubmitCardedAsync(id, "Great thread, thanks!");
        // Every wait is waiting on the draft before it moves: each is answered by the withdrawal, not by a look at a withdrawn draft.
        await using var waits = await DraftWaits.StartAsync(Host, id);

        await CancelAsync(id, "the thread was deleted");

        foreach (var response in new[] { await waits.Decided.WaitAsync(TelegramHarness.Wait), await waits.Final.WaitAsync(TelegramHarness.Wait) })
        {
            Assert.True(response.Ok, response.Error?.Message);
            Assert.True(response.Decided);
            Assert.Equal(States.Cancelled, response.Draft!.State);
            Assert.Equal("the thread was deleted", response.Draft.Cancellation!.Reason);
        }
        // As for rejected and expired: the draft left pending/carded, so the wait is over (0); the state says how.
        foreach (var run in new[] { await waits.Cli.WaitAsync(TelegramHarness.Wait), await waits.CliFinal.WaitAsync(TelegramHarness.Wait) })
        {
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Matches(new Regex(@"^state\s+cancelled$", RegexOptions.Multiline), run.Stdout);
            Assert.Matches(new Regex(@"^cancelled\s+by the agent at \S+ \S+: the thread was deleted$", RegexOptions.Multiline), run.Stdout);
        }
        var edited = await WithdrawnCardAsync(card);
        var at = CardRendererTime(Host.Store.Get(id)!.StateSince);
        Assert.StartsWith($"🚫 Withdrawn by the agent at {at}: the thread was deleted\n\n", edited.Text, StringComparison.Ordinal);
        Assert.Contains("Great thread, thanks!", edited.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("🗑", edited.Text, StringComparison.Ordinal);
        await Eventually.TrueAsync(() => Host.Store.Get(id)!.CardShowsCurrentState, "the card's edit recorded as shown");
    }

    /// <summary>An old copy of the card tapped after the withdrawal, and that tap delivered again: each answered, nothing changes.</summary>
    [Fact]
    public async Task TapOnWithdrawnCard_AnsweredAndChangesNothing()
    {
        const string id = "reply:tapped-after";
        var card = await _harness.SubmitCardedAsync(id, "Too late to decide");
        await CancelAsync(id, "superseded by reply:tapped-after:2");
        var withdrawnCard = await WithdrawnCardAsync(card);
        await Eventually.TrueAsync(() => Host.Store.Get(id)!.CardShowsCurrentState, "the card's edit recorded as shown");
        var events = Host.Store.Events(id);
        var draft = Host.Store.Get(id);

        var (answer, rejectAnswer) = await _harness.TapClosedCardAsync(card);

        Assert.Equal($"Nothing to decide: the agent withdrew this draft at {CardRendererTime(draft!.StateSince)}: superseded by reply:tapped-after:2", answer.Text);
        Assert.Equal(answer.Text, rejectAnswer.Text);
        Assert.Equal(draft, Host.Store.Get(id));
        Assert.Equal(events, Host.Store.Events(id));
        var now = Control.GetMessage(card.ChatId, card.MessageId)!;
        Assert.Equal((withdrawnCard.Text, 0), (now.Text, now.Buttons.Count));
    }

    /// <summary>/status tells a withdrawal by the agent from an approver's Discard, as the card does. Found by review.</summary>
    [Fact]
    public async Task StatusOfWithdrawnDraft_SaysTheAgentWithdrewItAndWhy()
    {
        const string id = "reply:status-withdrawn";
        var card = await _harness.SubmitCardedAsync(id, "Asked about");
        await CancelAsync(id, "the thread was deleted");
        await WithdrawnCardAsync(card);

        Control.SendUserMessage("/status " + id);
        var reply = await Control.WaitForMessageAsync(m => m.Text?.StartsWith(id + " (#", StringComparison.Ordinal) == true, TelegramHarness.Wait);

        Assert.Contains("State: cancelled", reply.Text, StringComparison.Ordinal);
        Assert.Contains("🚫 Withdrawn by the agent at ", reply.Text, StringComparison.Ordinal);
        Assert.EndsWith(": the thread was deleted", reply.Text!.Split('\n').Single(l => l.StartsWith("🚫", StringComparison.Ordinal)), StringComparison.Ordinal);
    }

    /// <summary>Approved, then withdrawn before any run: the card keeps who approved and says the agent withdrew it, not that it was discarded.</summary>
    [Fact]
    public async Task ApprovedDraftWithdrawn_CardShowsTheApprovalThenTheWithdrawal()
    {
        const string id = "reply:approved-then-withdrawn";
        var card = await _harness.SubmitCardedAsync(id, "Ship it");
        var press = Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        await Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        await _harness.WaitForStateAsync(id, DraftState.Approved);

        var response = await CancelAsync(id, "posted by hand meanwhile");

        Assert.Equal("approved", response.Draft!.Decision!.Outcome);
        var edited = await WithdrawnCardAsync(card);
        var at = CardRendererTime(Host.Store.Get(id)!.StateSince);
        Assert.Matches($"^✅ Approved by [^\n]+ · 🚫 Withdrawn by the agent at {Regex.Escape(at)}: posted by hand meanwhile\n", edited.Text!);
        Assert.DoesNotContain("Discarded", edited.Text, StringComparison.Ordinal);
        var tap = Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Reject"), requireButton: false);
        var answer = await Control.WaitForCallbackAnswerAsync(tap.QueryId, TelegramHarness.Wait);
        Assert.Matches("^Already approved by .+, then withdrawn by the agent\\.$", answer.Text!);
        Assert.Equal(DraftState.Cancelled, Host.Store.Get(id)!.State);
    }

    /// <summary>
    /// A draft whose card never got out (the chat refused the bot) and that its agent withdrew meanwhile gets no card once
    /// the chat takes cards again; the draft after it does, in the pass that would have sent the withdrawn one first.
    /// </summary>
    [Fact]
    public async Task PendingDraftWithdrawnBeforeItsCardWentOut_GetsNoCardOnceTheChatTakesCardsAgain()
    {
        Control.RemoveBotFromChat(_harness.ChatId);
        await _harness.SubmitAsync("reply:never-shown", "No card yet");
        await Eventually.TrueAsync(() => Host.Store.Get("reply:never-shown")!.CardError is not null, "the refused card recorded");

        await CancelAsync("reply:never-shown", "the thread was deleted");
        Control.AddBotToChat(_harness.ChatId);
        // Past the refused card's next attempt, so it would be due in the outbox's next pass had it not been withdrawn.
        _clock.Advance(TimeSpan.FromSeconds(61));
        await _harness.SubmitAsync("reply:shown", "Card me");
        await _harness.WaitForCardAsync("reply:shown");

        var draft = Host.Store.Get("reply:never-shown")!;
        Assert.Equal((DraftState.Cancelled, null), (draft.State, draft.CardMessageId));
        Assert.DoesNotContain(Control.GetMessages(_harness.ChatId), m => m.Text is { } t && t.Contains("reply:never-shown", StringComparison.Ordinal));
        Assert.Equal(["submitted", "cancelled"], Host.Store.Events("reply:never-shown").Select(e => e.Type).Where(t => t is "submitted" or CancelOperation.EventType));
    }

    private static string CardRendererTime(DateTimeOffset at) => ApprovalBot.Telegram.Cards.CardRenderer.FormatTime(at);
}
