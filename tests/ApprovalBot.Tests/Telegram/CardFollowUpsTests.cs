using System.Globalization;
using System.Text.Json.Nodes;
using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Reconciliation;
using ApprovalBot.Sandbox;
using ApprovalBot.Telegram;
using ApprovalBot.Telegram.Cards;
using ApprovalBot.Telegram.Sandbox;
using ApprovalBot.Tests.Execution;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Tests.Telegram;

/// <summary>
/// A card's edit after a change (a decision, an outcome) that Telegram did not take before the service stopped: the
/// retries live in memory and end with the process, so the card is found behind its draft in the store at the next start.
/// </summary>
public sealed class CardFollowUpsTests
{
    [Theory]
    [InlineData("Approve", "✅ Approved by", "approved")]
    [InlineData("Reject", "❌ Rejected by", "rejected")]
    public async Task Tap_CardEditFailsUntilTheServiceRestarts_CardShowsTheDecisionWithoutButtonsAfterTheRestart(string button, string shown, string state)
    {
        // Named so that a card wrongly taken for one left behind would be edited before the one that is (ids in order).
        const string upToDate = "reply:a-up-to-date";
        const string behind = "reply:b-behind";
        await using var h = await TelegramHarness.StartAsync(["ApprovalBot:Telegram:MaxCallRetries=0"]);
        await h.SubmitAsync(upToDate, "decided while Telegram was up");
        var upToDateCard = await h.WaitForCardAsync(upToDate);
        var pressed = h.Control.PressButton(upToDateCard.MessageId, TelegramHarness.ButtonData(upToDateCard, "Approve"));
        await h.Control.WaitForCallbackAnswerAsync(pressed.QueryId, TelegramHarness.Wait);
        await h.Control.WaitForEditAsync(h.ChatId, upToDateCard.MessageId, TelegramHarness.Wait, m => m.Buttons.Count == 0);
        var card = await h.SubmitCardedAsync(behind, "decided while Telegram refused edits");
        // Telegram refuses every edit for as long as this host runs: none of its retries (in memory) gets through.
        h.Control.InjectFault("editMessageText", SandboxFault.Error(502, "Bad Gateway"), times: 10_000);

        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, button));
        await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        await h.Control.WaitForCallAsync(c => c.Method == "editMessageText" && c.StatusCode == 502, TelegramHarness.Wait);
        // Telegram will not deliver the tap again after the restart (a redelivered tap would edit the card by itself).
        await h.Control.WaitForUpdateConfirmedAsync(press.UpdateId, TelegramHarness.Wait);
        Assert.Equal(state, h.Host.Store.Get(behind)!.State.ToWire());
        var stopped = h.Control.GetCalls().Max(c => c.Sequence);
        await h.RestartHostAsync(whileStopped: h.Control.ClearFaults);

        var edited = await h.Control.WaitForEditAsync(h.ChatId, card.MessageId, TelegramHarness.Wait, m => m.Buttons.Count == 0);
        Assert.StartsWith(shown + " " + h.Sandbox.Settings.ApproverName, edited.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(h.Control.GetCalls("editMessageText"), c => c.Sequence > stopped && MessageId(c) == upToDateCard.MessageId);
        await Eventually.TrueAsync(() => h.Host.Store.Get(behind)!.CardShownState == state, "the edit to be recorded");
        Assert.Equal("approved", h.Host.Store.Get(upToDate)!.CardShownState);
    }

    [Fact]
    public async Task Outcome_CardEditFailsUntilTheServiceRestarts_CardShowsTheOutcomeAfterTheRestart()
    {
        const string id = "reply:outcome-behind";
        await using var h = await TelegramHarness.StartAsync(["ApprovalBot:Telegram:MaxCallRetries=0"]);
        await h.SubmitAsync(id, "text");
        var card = await h.WaitForCardAsync(id);
        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        await h.Control.WaitForEditAsync(h.ChatId, card.MessageId, TelegramHarness.Wait, m => m.Buttons.Count == 0);
        // Not delivered again after the restart, where it would show the latest state by itself.
        await h.Control.WaitForUpdateConfirmedAsync(press.UpdateId, TelegramHarness.Wait);
        h.Control.InjectFault("editMessageText", SandboxFault.Error(502, "Bad Gateway"), times: 10_000);

        await FailExecutionAsync(h.Host.Store, id, "HTTP 500 from sink");
        await h.Control.WaitForCallAsync(c => c.Method == "editMessageText" && c.StatusCode == 502, TelegramHarness.Wait);
        await h.RestartHostAsync(whileStopped: h.Control.ClearFaults);

        var edited = await h.Control.WaitForEditAsync(h.ChatId, card.MessageId, TelegramHarness.Wait, m => m.Text!.Contains("Execution failed", StringComparison.Ordinal));
        Assert.StartsWith("✅ Approved by " + h.Sandbox.Settings.ApproverName + " · ⚠️ Execution failed: HTTP 500 from sink", edited.Text, StringComparison.Ordinal);
        Assert.Equal(DraftState.Failed, h.Host.Store.Get(id)!.State);
    }

    [Fact]
    public async Task Outcome_DraftFailsAgainWithAnotherErrorWhileEditsFail_CardShowsTheNewErrorAfterTheRestart()
    {
        // Back in a state its card was recorded showing (failed, Retry, failed again): only the state was recorded, so
        // the card kept the first error for good.
        const string id = "reply:fails-twice";
        await using var h = await TelegramHarness.StartAsync(["ApprovalBot:Telegram:MaxCallRetries=0"]);
        await h.SubmitAsync(id, "text");
        var card = await h.WaitForCardAsync(id);
        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        await h.Control.WaitForUpdateConfirmedAsync(press.UpdateId, TelegramHarness.Wait);
        var store = h.Host.Store;
        await FailExecutionAsync(store, id, "FIRST-FAILURE");
        await h.Control.WaitForEditAsync(h.ChatId, card.MessageId, TelegramHarness.Wait, m => m.Text!.Contains("FIRST-FAILURE", StringComparison.Ordinal));
        await Eventually.TrueAsync(() => store.Get(id)!.CardShowsCurrentState, "the first failure recorded as shown");
        h.Control.InjectFault("editMessageText", SandboxFault.Error(502, "Bad Gateway"), times: 10_000);

        await store.TransitionAsync(new Transition(id, [DraftState.Failed], DraftState.Approved, "retry_requested", "test"));
        await FailExecutionAsync(store, id, "SECOND-FAILURE");
        await h.Control.WaitForCallAsync(c => c.Method == "editMessageText" && c.StatusCode == 502, TelegramHarness.Wait);
        await h.RestartHostAsync(whileStopped: h.Control.ClearFaults);

        var edited = await h.Control.WaitForEditAsync(h.ChatId, card.MessageId, TelegramHarness.Wait, m => m.Text!.Contains("SECOND-FAILURE", StringComparison.Ordinal));
        Assert.DoesNotContain("FIRST-FAILURE", edited.Text, StringComparison.Ordinal);
        await Eventually.TrueAsync(() => h.Host.Store.Get(id)!.CardShowsCurrentState, "the second failure recorded as shown");
    }

    /// <summary>
    /// Changes of one draft queued behind an edit of its card: the first of them shows the latest state, and the later
    /// ones find the card showing it. Before, each edited the card again (a call of the chat's rate spent on "message is
    /// not modified"), and a card whose edit Telegram refuses was refused, and logged, once per change.
    /// </summary>
    [Fact]
    public async Task Outcome_ChangesQueuedBehindAnEditOfTheCard_TheLatestStateIsShownOnce()
    {
        const string id = "reply:queued-changes";
        const string other = "reply:queued-last";
        await using var h = await TelegramHarness.StartAsync(["ApprovalBot:Telegram:MaxCallRetries=0"]);
        var store = h.Host.Store;
        var card = await ApprovedCardAsync(h, id);
        var otherCard = await ApprovedCardAsync(h, other);
        var gate = new SandboxGate();
        h.Control.InjectFault("editMessageText", SandboxFault.Hold(gate), times: 1);
        await FailExecutionAsync(store, id, "FIRST-FAILURE");
        await gate.Reached.WaitAsync(TelegramHarness.Wait);

        // Two more changes while that edit is held (a Retry, a second failure), then one of another draft, whose edit
        // comes after every follow-up queued before it.
        await store.TransitionAsync(new Transition(id, [DraftState.Failed], DraftState.Approved, "retry_requested", "test"));
        await FailExecutionAsync(store, id, "SECOND-FAILURE");
        await FailExecutionAsync(store, other, "LAST-FAILURE");
        gate.Release();
        await h.Control.WaitForEditAsync(h.ChatId, otherCard.MessageId, TelegramHarness.Wait, m => m.Text!.Contains("LAST-FAILURE", StringComparison.Ordinal));

        var edits = h.Control.GetCalls("editMessageText").Where(c => MessageId(c) == card.MessageId).ToList();
        // Every edit of the card, said in full if the test fails: which one repeated what, and when.
        var said = string.Join("\n", edits.Select(c => $"#{c.Sequence} {c.StatusCode} {c.Description} {c.Parameters["text"].ReplaceLineEndings(" | ")}"));
        Assert.True(edits.Count(c => c.Parameters["text"].Contains("SECOND-FAILURE", StringComparison.Ordinal)) == 1, said);
        Assert.True(edits.All(c => c.StatusCode == 200), said);
    }

    /// <summary>
    /// A draft carded, approved by a tap, and the approval shown on its card and recorded as shown. Tapped once the card is
    /// on record: a tap that comes first is shown by the decision handler and again by the outbox catching up the card it
    /// sent (Telegram answers the second "not modified"), which a test counting edits would take for a repeat.
    /// </summary>
    private static async Task<SentMessage> ApprovedCardAsync(TelegramHarness h, string id)
    {
        var card = await h.SubmitCardedAsync(id, "text");
        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        await h.Control.WaitForEditAsync(h.ChatId, card.MessageId, TelegramHarness.Wait, m => m.Buttons.Count == 0);
        await Eventually.TrueAsync(() => h.Host.Store.Get(id)!.CardShowsCurrentState, "the approval recorded as shown");
        return card;
    }

    [Fact]
    public async Task Tap_TelegramSaysTheCardIsGone_RefusalRecordedAndNotTriedAgainAtTheNextStart()
    {
        // Named so that the card Telegram refuses would be edited first at the next start if it were tried again.
        const string gone = "reply:a-gone";
        const string behind = "reply:b-behind";
        await using var h = await TelegramHarness.StartAsync(["ApprovalBot:Telegram:MaxCallRetries=0"]);
        await h.SubmitAsync(gone, "its card was deleted by hand");
        await h.SubmitAsync(behind, "its edit waits for Telegram");
        var goneCard = await h.WaitForCardAsync(gone);
        var card = await h.WaitForCardAsync(behind);
        await h.WaitForStateAsync(gone, DraftState.Carded);
        await h.WaitForStateAsync(behind, DraftState.Carded);
        h.Control.InjectFault("editMessageText", SandboxFault.Error(400, "Bad Request: message to edit not found"));
        var first = h.Control.PressButton(goneCard.MessageId, TelegramHarness.ButtonData(goneCard, "Approve"));
        await h.Control.WaitForCallAsync(c => c.Method == "editMessageText" && c.StatusCode == 400, TelegramHarness.Wait);
        h.Control.InjectFault("editMessageText", SandboxFault.Error(502, "Bad Gateway"), times: 10_000);
        var second = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        await h.Control.WaitForCallAsync(c => c.Method == "editMessageText" && c.StatusCode == 502, TelegramHarness.Wait);
        await h.Control.WaitForUpdateConfirmedAsync(first.UpdateId, TelegramHarness.Wait);
        await h.Control.WaitForUpdateConfirmedAsync(second.UpdateId, TelegramHarness.Wait);
        var stopped = h.Control.GetCalls().Max(c => c.Sequence);
        await h.RestartHostAsync(whileStopped: h.Control.ClearFaults);

        await h.Control.WaitForEditAsync(h.ChatId, card.MessageId, TelegramHarness.Wait, m => m.Buttons.Count == 0);
        Assert.DoesNotContain(h.Control.GetCalls("editMessageText"), c => c.Sequence > stopped && MessageId(c) == goneCard.MessageId);
        var refused = Assert.Single(h.Host.Store.Events(gone), e => e.Type == "card_edit_refused");
        Assert.Contains("message to edit not found", refused.Details, StringComparison.Ordinal);
        Assert.Equal(DraftState.Approved, h.Host.Store.Get(gone)!.State);
    }

    /// <summary>
    /// A change of a draft whose card is gone (deleted by hand, or left in the sandbox of an earlier run) is said once:
    /// the sender's line that it is recorded as card_edit_refused and not tried again, not followed by a second warning
    /// with a stack trace that the card "shows an older state until the next look", which the refusal rules out.
    /// </summary>
    [Fact]
    public async Task Change_CardGoneFromTheChat_OneWarningSaysItIsRecordedAndNoGaveUpWarningFollows()
    {
        const string id = "reply:card-deleted";
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        var card = await h.SubmitCardedAsync(id, "its card was deleted by hand");
        var later = await h.SubmitCardedAsync("reply:later", "withdrawn next: the follow-ups go one at a time");
        h.Control.DeleteMessage(h.ChatId, card.MessageId);

        await using (var agent = await h.Host.ConnectAsync())
        {
            Assert.True((await agent.CancelAsync(id, "changed my mind")).Ok);
            Assert.True((await agent.CancelAsync("reply:later", "changed my mind")).Ok);
        }
        // Its edit comes after the first follow-up was handled, its log lines included.
        await h.Control.WaitForEditAsync(h.ChatId, later.MessageId, TelegramHarness.Wait, m => m.Buttons.Count == 0);
        Assert.Contains(h.Host.Store.Events(id), e => e.Type == "card_edit_refused");

        var warnings = logs.Entries.Where(e => e.Level >= LogLevel.Warning && e.Message.Contains(id, StringComparison.Ordinal)).ToList();
        var warning = Assert.Single(warnings);
        Assert.Contains("recorded as card_edit_refused, not tried again until the draft changes", warning.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Telegram refuses the edit itself with 400 (an edit we rendered wrong: too long, HTML it cannot parse): the same
    /// rendering gets the same answer, so it is recorded as card_edit_refused and logged at Error, and neither the next look at
    /// the cards behind nor the next start sends it again.
    /// </summary>
    [Theory]
    [InlineData("Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 10", "parse entities")]
    [InlineData("Bad Request: MESSAGE_TOO_LONG", "MESSAGE_TOO_LONG")]
    [InlineData("Bad Request: message is too long", "message is too long")]
    public async Task Tap_TelegramRefusesTheEditItself_RefusalRecordedLoggedAtErrorAndNotTriedAgain(string refusal, string recorded)
    {
        // Named so that the refused card would be edited first at the next start if it were tried again.
        const string id = "reply:a-edit-refused";
        const string behind = "reply:b-behind";
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(["ApprovalBot:Telegram:MaxCallRetries=0"], services: s => s.AddSingleton<ILoggerProvider>(logs));
        var card = await h.SubmitCardedAsync(id, "its edit is refused");
        var behindCard = await h.SubmitCardedAsync(behind, "its edit waits for Telegram");
        h.Control.InjectFault("editMessageText", SandboxFault.Error(400, refusal));
        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        await h.Control.WaitForCallAsync(c => c.Method == "editMessageText" && c.StatusCode == 400, TelegramHarness.Wait);
        h.Control.InjectFault("editMessageText", SandboxFault.Error(502, "Bad Gateway"), times: 10_000);
        var second = h.Control.PressButton(behindCard.MessageId, TelegramHarness.ButtonData(behindCard, "Approve"));
        await h.Control.WaitForCallAsync(c => c.Method == "editMessageText" && c.StatusCode == 502, TelegramHarness.Wait);
        await h.Control.WaitForUpdateConfirmedAsync(press.UpdateId, TelegramHarness.Wait);
        await h.Control.WaitForUpdateConfirmedAsync(second.UpdateId, TelegramHarness.Wait);
        await Eventually.TrueAsync(() => h.Host.Store.Events(id).Any(e => e.Type == "card_edit_refused"), "card_edit_refused in the ledger");
        var stopped = h.Control.GetCalls().Max(c => c.Sequence);

        await h.RestartHostAsync(whileStopped: h.Control.ClearFaults);
        await h.Control.WaitForEditAsync(h.ChatId, behindCard.MessageId, TelegramHarness.Wait, m => m.Buttons.Count == 0);

        Assert.DoesNotContain(h.Control.GetCalls("editMessageText"), c => c.Sequence > stopped && MessageId(c) == card.MessageId);
        var refused = Assert.Single(h.Host.Store.Events(id), e => e.Type == "card_edit_refused");
        Assert.Contains(recorded, refused.Details, StringComparison.Ordinal);
        Assert.Equal(DraftState.Approved, h.Host.Store.Get(id)!.State);
        var error = Assert.Single(logs.Entries, e => e.Level == LogLevel.Error && e.EventId.Name == "CardEditRefused");
        Assert.Contains(id, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Outcome_EditGivenUpWhileTelegramWasDown_CardShowsTheOutcomeAtTheNextLookWithoutARestart()
    {
        const string id = "reply:given-up";
        var clock = new SignallingClock();
        await using var h = await TelegramHarness.StartAsync(
            ["ApprovalBot:Telegram:MaxCallRetries=0", "ApprovalBot:Telegram:CardMaxAttempts=1", "ApprovalBot:Telegram:CardRetryMaxDelaySeconds=300"],
            services: s => s.UseClock<CardFollowUps>(clock));
        var card = await h.SubmitCardedAsync(id, "text");
        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        await h.Control.WaitForEditAsync(h.ChatId, card.MessageId, TelegramHarness.Wait, m => m.Buttons.Count == 0);
        await h.Control.WaitForUpdateConfirmedAsync(press.UpdateId, TelegramHarness.Wait);
        h.Control.InjectFault("editMessageText", SandboxFault.Error(502, "Bad Gateway"), times: 10_000);
        await FailExecutionAsync(h.Host.Store, id, "HTTP 500 from sink");
        // Its one attempt (CardMaxAttempts=1) fails; Telegram is back after that, with nothing left to retry the edit.
        await h.Control.WaitForCallAsync(c => c.Method == "editMessageText" && c.StatusCode == 502, TelegramHarness.Wait);
        h.Control.ClearFaults();

        clock.Advance(TimeSpan.FromSeconds(300));

        var edited = await h.Control.WaitForEditAsync(h.ChatId, card.MessageId, TelegramHarness.Wait, m => m.Text!.Contains("Execution failed", StringComparison.Ordinal));
        Assert.Contains("HTTP 500 from sink", edited.Text, StringComparison.Ordinal);
        await Eventually.TrueAsync(() => h.Host.Store.Get(id)!.CardShownState == "failed", "the edit to be recorded");
    }

    [Fact]
    public async Task Start_CardBehindItsDraftCannotBeRendered_HostKeepsRunningOtherCardsShownAndItIsNotTriedAgainAtTheNextStart()
    {
        // Named so that the card that cannot be rendered is followed up first at each start (ids in order).
        const string broken = "reply:a-unrenderable";
        const string behind = "reply:b-behind";
        const string nextBehind = "reply:c-behind";
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        var card = await h.SubmitCardedAsync(behind, "cancelled while the service was down");
        var nextCard = await h.SubmitCardedAsync(nextBehind, "cancelled while the service was down again");

        // As an earlier run left them: a failed draft whose card still shows 'carded', with a sha256 no build writes
        // (rendering its card throws: the hash prefix is out of range; it stands for any failure of one card that is
        // not Telegram's answer), and a card still showing 'carded' of a draft cancelled since.
        await h.RestartHostAsync(whileStopped: () => DraftFixtures.Sql(h.DataDirectory, $"""
            INSERT INTO drafts(id, kind, agent, text, sha256, state, created_at, updated_at, state_since, card_chat_id, card_message_id, card_shown_state, decision, exec_error)
            VALUES ('{broken}', 'reply', 'old-agent', 'old text', 'bad', 'failed', 1, 1, 1, {h.ChatId}, 999, 'carded', 'approved', 'boom');
            UPDATE drafts SET state = 'cancelled', state_since = updated_at + 1 WHERE id = '{behind}';
            """));

        await h.Control.WaitForEditAsync(h.ChatId, card.MessageId, TelegramHarness.Wait, m => m.Text!.Contains("Cancelled", StringComparison.Ordinal));
        Assert.False(h.Host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.IsCancellationRequested);
        Assert.False(h.Host.Services.GetServices<IHostedService>().OfType<CardFollowUps>().Single().ExecuteTask!.IsCompleted);
        var failed = Assert.Single(h.Host.Store.Events(broken), e => e.Type == CardSender.EditFailedEvent);
        Assert.Contains("ArgumentOutOfRangeException", failed.Details, StringComparison.Ordinal);
        Assert.Equal("failed", h.Host.Store.Get(broken)!.CardShownState);
        Assert.DoesNotContain(broken, CardsBehind(h.Host.Store));
        var error = Assert.Single(logs.Entries, e => e.Category == typeof(CardFollowUps).FullName && e.Level == LogLevel.Error);
        Assert.Equal(broken, error.Properties["DraftId"]);

        // Had it stayed behind, the next start would meet it again before the next card behind.
        await h.RestartHostAsync(whileStopped: () => DraftFixtures.Sql(h.DataDirectory, $"UPDATE drafts SET state = 'cancelled', state_since = updated_at + 1 WHERE id = '{nextBehind}'"));

        await h.Control.WaitForEditAsync(h.ChatId, nextCard.MessageId, TelegramHarness.Wait, m => m.Text!.Contains("Cancelled", StringComparison.Ordinal));
        Assert.Single(logs.Entries, e => e.Category == typeof(CardFollowUps).FullName && e.Level == LogLevel.Error);
        Assert.Single(h.Host.Store.Events(broken), e => e.Type == CardSender.EditFailedEvent);
    }

    /// <summary>
    /// ✔️ Mark done on an unknown outcome's escalation: the draft is executed by an approver's word, not by a run, and its
    /// card says so, who and when, instead of "📤 Executed" with the time of the attempt that was cut off. The approver's
    /// name is escaped like every other value: the chat shows it as Telegram gave it (unescaped, Telegram refuses the edit).
    /// </summary>
    [Fact]
    public async Task Outcome_UnknownMarkedDoneOnItsEscalation_CardSaysWhoMarkedItDoneAndWhen()
    {
        const string id = "reply:marked-done";
        const string name = "Bob <ops> & \"co\"";
        using var data = new TempDirectory();
        await using var sandbox = await SandboxServer.StartAsync(
            new SandboxSettings { Url = "http://127.0.0.1:0", RateLimits = false, ApproverName = name }, loggerFactory: null, TimeProvider.System);
        await using var host = await TestHost.StartAsync(settings: TelegramHarness.SettingsFor(sandbox), dataDirectory: data.Path, compose: b => b.AddTelegram());
        var chat = sandbox.PrivateChatId;
        await using (var agent = await host.ConnectAsync())
        {
            Assert.True((await agent.SubmitAsync(new DraftSubmission { Id = id, Kind = "reply", Agent = "a", Text = "post me once" })).Ok);
        }
        var card = await sandbox.Control.WaitForMessageAsync(m => m.Text?.Contains(id, StringComparison.Ordinal) == true && m.AllButtons.Any(), TelegramHarness.Wait);
        await host.WaitForStateAsync(id, DraftState.Carded, TelegramHarness.Wait);
        sandbox.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        await host.WaitForStateAsync(id, DraftState.Approved, TelegramHarness.Wait);
        await DraftFixtures.MoveAsync(host.Store, id, DraftState.Approved, DraftState.Executing,
            new Dictionary<string, object?> { ["exec_attempts"] = 1, ["exec_at"] = DraftColumns.ToUnixMs(DateTimeOffset.UtcNow.AddHours(-3)) });
        await DraftFixtures.MoveAsync(host.Store, id, DraftState.Executing, DraftState.Unknown,
            new Dictionary<string, object?> { ["exec_error"] = "timed out after 30 s; it may or may not have taken effect" });
        await sandbox.Control.WaitForEditAsync(chat, card.MessageId, TelegramHarness.Wait, m => m.Text!.Contains("Outcome unknown", StringComparison.Ordinal));
        var unknown = host.Store.Get(id)!;
        await host.Services.GetRequiredService<IEscalationChannel>().SendAsync(new Escalation("1 stale needs attention", [
            new EscalatedGap(unknown.Id, unknown.Seq, unknown.Sha256, "stale/awaiting_human", unknown.StateSince, "outcome unknown; check the sink",
                [ApproverAction.Retry, ApproverAction.MarkDone, ApproverAction.Discard], Reminder: false) { StateSince = unknown.StateSince },
        ]), CancellationToken.None);
        var escalation = await sandbox.Control.WaitForMessageAsync(
            m => m.MessageId > card.MessageId && m.AllButtons.Any(b => b.Text.Contains("Mark done", StringComparison.Ordinal)), TelegramHarness.Wait);

        var done = sandbox.Control.PressButton(escalation.MessageId, TelegramHarness.ButtonData(escalation, "Mark done"));
        Assert.Contains("Marked", (await sandbox.Control.WaitForCallbackAnswerAsync(done.QueryId, TelegramHarness.Wait)).Text);

        var edited = await sandbox.Control.WaitForEditAsync(chat, card.MessageId, TelegramHarness.Wait, m => m.Text!.Contains("Marked done", StringComparison.Ordinal));
        var markedDone = host.Store.Get(id)!;
        Assert.Equal(DraftState.Executed, markedDone.State);
        Assert.StartsWith($"✅ Approved by {name} · ✔️ Marked done by {name} at {CardRenderer.FormatTime(markedDone.StateSince)}\n\n", edited.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("Executed", edited.Text, StringComparison.Ordinal);
        Assert.Empty(edited.Buttons);
        await Eventually.TrueAsync(() => host.Store.Get(id)!.CardShownState == "executed", "the edit to be recorded");

        // /status says it too, beside the attempt that was cut off.
        sandbox.Control.SendUserMessage("/status " + id);
        var status = await sandbox.Control.WaitForMessageAsync(m => m.Text?.StartsWith(id + " (#", StringComparison.Ordinal) == true, TelegramHarness.Wait);
        Assert.Contains($"\n✔️ Marked done by {name} at {CardRenderer.FormatTime(markedDone.StateSince)}\n", status.Text, StringComparison.Ordinal);
        Assert.Contains("error: timed out after 30 s", status.Text, StringComparison.Ordinal);
    }

    /// <summary>
    /// Tried out with the built-in sandbox, then given a real bot: a draft decided in the sandbox's chat keeps its card there,
    /// and when it changes later (executed) the edit of that card goes to a chat the real Bot API does not know ("chat not
    /// found"). That was a Warning at every look at the cards behind (every CardRetryMaxDelaySeconds), for ever; it is a
    /// refusal for good, said once and recorded as card_edit_refused, like a card deleted by hand.
    /// </summary>
    [Fact]
    public async Task Outcome_CardInTheBuiltInSandboxThenARealBot_EditRefusedOnceRecordedAndNotTriedAgainAtTheNextLook()
    {
        // Named so that the sandbox's card would be tried first at the next look if it were tried again (ids in order).
        const string old = "reply:a-decided-in-the-sandbox";
        const string behind = "reply:b-behind";
        using var data = new TempDirectory();
        long sandboxChat;
        await using (var sandboxRun = await TestHost.StartAsync(
            settings: ["ApprovalBot:Sandbox:Url=http://127.0.0.1:0", "ApprovalBot:Sandbox:RateLimits=false"], dataDirectory: data.Path, compose: b => b.AddTelegram()))
        {
            var builtIn = sandboxRun.Services.GetRequiredService<BuiltInSandbox>().Server!;
            await using (var agent = await sandboxRun.ConnectAsync())
            {
                Assert.True((await agent.SubmitAsync(new DraftSubmission { Id = old, Kind = "reply", Agent = "a", Text = "approved in the sandbox" })).Ok);
            }
            var sandboxCard = await builtIn.Control.WaitForMessageAsync(m => m.Text?.Contains(old, StringComparison.Ordinal) == true && m.AllButtons.Any(), TelegramHarness.Wait);
            await sandboxRun.WaitForStateAsync(old, DraftState.Carded, TelegramHarness.Wait);
            builtIn.Control.PressButton(sandboxCard.MessageId, TelegramHarness.ButtonData(sandboxCard, "Approve"));
            await sandboxRun.WaitForStateAsync(old, DraftState.Approved, TelegramHarness.Wait);
            await Eventually.TrueAsync(() => sandboxRun.Store.Get(old)!.CardShowsCurrentState, "the approval shown on the sandbox's card");
            sandboxChat = builtIn.PrivateChatId;
        }
        await using var real = await SandboxServer.StartAsync(
            new SandboxSettings { Url = "http://127.0.0.1:0", RateLimits = false, ApproverId = 4242 }, loggerFactory: null, TimeProvider.System);
        Assert.NotEqual(sandboxChat, real.PrivateChatId);
        var logs = new CapturedLogs();
        var clock = new SignallingClock();
        await using var host = await TestHost.StartAsync(
            settings: [.. TelegramHarness.SettingsFor(real),
                "ApprovalBot:Telegram:MaxCallRetries=0", "ApprovalBot:Telegram:CardMaxAttempts=1", "ApprovalBot:Telegram:CardRetryMaxDelaySeconds=300"],
            services: s =>
            {
                s.AddSingleton<ILoggerProvider>(logs);
                s.UseClock<CardFollowUps>(clock);
            },
            dataDirectory: data.Path, compose: b => b.AddTelegram());
        Assert.Equal(0, await host.Services.GetRequiredService<VanishedCards>().Done.WaitAsync(TelegramHarness.Wait));

        // Executed in one commit: one change for the card to show. Moved in two, the edit for executing could be refused
        // and recorded before the move to executed, a change of its own that is tried again (two refusals, by design).
        await host.Store.WriteAsync(ctx =>
        {
            Assert.True(DraftStore.Apply(ctx, new Transition(old, [DraftState.Approved], DraftState.Executing, "test_move", "test")).Applied);
            return Assert.IsType<TransitionResult>(DraftStore.Apply(ctx, new Transition(old, [DraftState.Executing], DraftState.Executed, "test_move", "test")
            {
                Set = new Dictionary<string, object?> { ["exec_result"] = "posted" },
            }));
        });

        await real.Control.WaitForCallAsync(c => c.Method == "editMessageText" && c.StatusCode == 400, TelegramHarness.Wait);
        await Eventually.TrueAsync(() => host.Store.Events(old).Any(e => e.Type == CardSender.EditRefusedEvent), "card_edit_refused in the ledger");
        var refused = JsonNode.Parse(host.Store.Events(old).Single(e => e.Type == CardSender.EditRefusedEvent).Details!)!;
        Assert.Equal((sandboxChat, "executed", true), ((long)refused["chat_id"]!, (string?)refused["state"], (bool?)refused["former_chat"]));
        Assert.Contains("chat not found", (string?)refused["description"], StringComparison.Ordinal);
        Assert.DoesNotContain(old, CardsBehind(host.Store));

        // A card in the real chat whose edit is given up while Telegram is down: the next look at the cards behind shows it.
        await using (var agent = await host.ConnectAsync())
        {
            Assert.True((await agent.SubmitAsync(new DraftSubmission { Id = behind, Kind = "reply", Agent = "a", Text = "approved while edits fail" })).Ok);
        }
        var card = await real.Control.WaitForMessageAsync(m => m.Text?.Contains(behind, StringComparison.Ordinal) == true && m.AllButtons.Any(), TelegramHarness.Wait);
        await host.WaitForStateAsync(behind, DraftState.Carded, TelegramHarness.Wait);
        real.Control.InjectFault("editMessageText", SandboxFault.Error(502, "Bad Gateway"), times: 10_000);
        var press = real.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"), fromUserId: 4242, chatId: 4242);
        await real.Control.WaitForCallAsync(c => c.Method == "editMessageText" && c.StatusCode == 502, TelegramHarness.Wait);
        await real.Control.WaitForUpdateConfirmedAsync(press.UpdateId, TelegramHarness.Wait);
        real.Control.ClearFaults();
        var before = real.Control.GetCalls().Max(c => c.Sequence);

        clock.Advance(TimeSpan.FromSeconds(300));

        await real.Control.WaitForEditAsync(4242, card.MessageId, TelegramHarness.Wait, m => m.Buttons.Count == 0);
        Assert.DoesNotContain(real.Control.GetCalls("editMessageText"), c => c.Sequence > before && c.Parameters["chat_id"] == sandboxChat.ToString(CultureInfo.InvariantCulture));
        Assert.Single(host.Store.Events(old), e => e.Type == CardSender.EditRefusedEvent);
        var warnings = logs.Entries.Where(e => e.Level >= LogLevel.Warning && e.Message.Contains(old, StringComparison.Ordinal)).ToList();
        Assert.True(warnings.Count == 1, string.Join("\n", warnings.Select(w => $"{w.EventId}: {w.Message}")));
        var warning = warnings[0];
        Assert.Contains("no longer the approvers' chat", warning.Message, StringComparison.Ordinal);
        Assert.Contains("recorded as card_edit_refused, not tried again until the draft changes", warning.Message, StringComparison.Ordinal);
    }

    /// <summary>The cards on record behind their draft, as the follow-ups read them at start.</summary>
    private static List<string> CardsBehind(DraftStore store) => store.Read(connection =>
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = CardFollowUps.BehindSql;
        cmd.Parameters.AddWithValue("$after", "");
        cmd.Parameters.AddWithValue("$limit", 1000);
        using var reader = cmd.ExecuteReader();
        var ids = new List<string>();
        while (reader.Read())
        {
            ids.Add(reader.GetString(0));
        }
        return ids;
    });

    /// <summary>An execution of the approved draft starts and fails with <paramref name="error"/>, as the executor records it.</summary>
    private static async Task FailExecutionAsync(DraftStore store, string id, string error)
    {
        await store.TransitionAsync(new Transition(id, [DraftState.Approved], DraftState.Executing, "exec_started", "test"));
        await store.TransitionAsync(new Transition(id, [DraftState.Executing], DraftState.Failed, "exec_failed", "test")
        {
            Set = new Dictionary<string, object?> { ["exec_error"] = error },
        });
    }

    private static int? MessageId(ApiCall call) =>
        call.Parameters.TryGetValue("message_id", out var id) ? int.Parse(id, CultureInfo.InvariantCulture) : null;
}
