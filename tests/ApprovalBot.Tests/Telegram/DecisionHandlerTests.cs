using ApprovalBot.Drafts;
using ApprovalBot.Sandbox;
using ApprovalBot.Telegram.Cards;
using ApprovalBot.Telegram.Updates;
using ApprovalBot.Tests.Execution;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Tests.Telegram;

public sealed class DecisionHandlerTests
{
    [Fact]
    public async Task Approve_TapOnCard_StoresDecisionBoundToHashThenEditsCard()
    {
        await using var h = await TelegramHarness.StartAsync();
        var receipt = await h.SubmitAsync("reply:approve-1", "Thanks, that fixed it!", context: new { rationale = "user asked", source_url = "https://example.com/t/1" });

        var card = await h.WaitForCardAsync("reply:approve-1");
        Assert.Contains("Thanks, that fixed it!", card.Text);
        await h.WaitForStateAsync("reply:approve-1", DraftState.Carded);

        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        var answer = await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);

        var draft = h.Host.Store.Get("reply:approve-1")!;
        Assert.Equal(DraftState.Approved, draft.State);
        Assert.Equal("approved", draft.Decision);
        Assert.Equal(h.Sandbox.Settings.ApproverId, draft.DecidedBy);
        Assert.Equal(Sha.Hex("Thanks, that fixed it!"), draft.DecisionSha256);
        Assert.Equal(receipt.Sha256, draft.DecisionSha256);
        Assert.Contains("Approved", answer.Text);

        var decided = Assert.Single(h.Host.Store.Events("reply:approve-1"), e => e.Type == "decided");
        Assert.Contains(press.QueryId, decided.Details);
        Assert.Contains(receipt.Sha256[..16], decided.Details);

        var edited = await h.Control.WaitForEditAsync(h.ChatId, card.MessageId, TelegramHarness.Wait);
        Assert.StartsWith("✅ Approved by " + h.Sandbox.Settings.ApproverName, edited.Text);
        Assert.Contains(" at ", edited.Text);
        Assert.Empty(edited.Buttons);
        Assert.Contains("Thanks, that fixed it!", edited.Text);
    }

    /// <summary>
    /// Approve on a card whose draft's text is missing from the store, or is not the text its hash was taken of: refused, the
    /// decision would bind the stored hash to a text the approver never saw. Recorded once as an orphan callback naming why,
    /// answered with why, nothing else changes; the card loses its Approve button, and Reject still works. Before, the
    /// approval was stored (the executor's handoff check blocked it later).
    /// </summary>
    [Theory]
    [InlineData("text = NULL", "text_missing", "⚠️ The text of reply:lost is missing from the store: it cannot be approved. Nothing changed; it was reported. ❌ Reject still works.")]
    [InlineData("text = 'other words'", "text_changed", "⚠️ The text of reply:lost does not match the stored SHA-256: it cannot be approved. Nothing changed; it was reported. ❌ Reject still works.")]
    public async Task Approve_TextMissingOrChangedInTheStore_RefusedAndRecordedCardKeepsRejectOnly(string set, string reason, string said)
    {
        await using var h = await TelegramHarness.StartAsync();
        var card = await h.SubmitCardedAsync("reply:lost", "the text shown");
        DraftFixtures.Sql(h.DataDirectory, $"UPDATE drafts SET {set} WHERE id = 'reply:lost'");

        var data = TelegramHarness.ButtonData(card, "Approve");
        var press = h.Control.PressButton(card.MessageId, data);
        var answer = await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        var edited = await h.Control.WaitForEditAsync(h.ChatId, card.MessageId, TelegramHarness.Wait);
        var again = h.RedeliverPress(press, card.MessageId, data, h.Control.ApproverId);
        await h.Control.WaitForUpdateConfirmedAsync(again, TelegramHarness.Wait);

        Assert.Equal((said, true), (answer.Text, answer.ShowAlert));
        var draft = h.Host.Store.Get("reply:lost")!;
        Assert.Equal((DraftState.Carded, (string?)null, (string?)null), (draft.State, draft.Decision, draft.DecisionSha256));
        Assert.DoesNotContain(h.Host.Store.Events("reply:lost"), e => e.Type == DecisionHandler.DecidedEvent);
        var orphan = Assert.Single(h.Host.Store.EventsOfType(OrphanCallbacks.EventType));
        Assert.Equal("reply:lost", orphan.DraftId);
        Assert.Contains($"\"reason\":\"{reason}\"", orphan.Details, StringComparison.Ordinal);
        Assert.Contains(press.QueryId, orphan.Details, StringComparison.Ordinal);
        Assert.Equal(["❌ Reject"], edited.AllButtons.Select(b => b.Text));

        var reject = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Reject"));
        Assert.Equal("❌ Rejected", (await h.Control.WaitForCallbackAnswerAsync(reject.QueryId, TelegramHarness.Wait)).Text);
        Assert.Equal(DraftState.Rejected, h.Host.Store.Get("reply:lost")!.State);
    }

    /// <summary>
    /// A card sent unconfirmed (its answers unreadable, none on record) tapped much later: Telegram sends the tapped message
    /// as an InaccessibleMessage (date 0, chat and message_id only, no buttons to check the data against). In the approvers'
    /// chat with data that matches the draft, that copy becomes the card on record and shows the decision; it used to be
    /// decided but left with its buttons and no outcome anywhere.
    /// </summary>
    [Fact]
    public async Task Approve_UnconfirmedCopyTappedAsAnInaccessibleMessage_AdoptedAsTheCardAndShowsTheDecision()
    {
        const string id = "reply:old-copy";
        await using var h = await TelegramHarness.StartAsync();
        var copy = await UnconfirmedCopyAsync(h, id);

        var approve = h.Control.PressButton(copy.MessageId, TelegramHarness.ButtonData(copy, "Approve"), chatId: h.ChatId, inaccessible: true);
        Assert.Equal("✅ Approved", (await h.Control.WaitForCallbackAnswerAsync(approve.QueryId, TelegramHarness.Wait)).Text);

        var shown = await h.Control.WaitForEditAsync(h.ChatId, copy.MessageId, TelegramHarness.Wait, m => m.Buttons.Count == 0);
        Assert.StartsWith("✅ Approved by", shown.Text, StringComparison.Ordinal);
        var draft = h.Host.Store.Get(id)!;
        Assert.Equal((h.ChatId, (long)copy.MessageId), (draft.CardChatId!.Value, draft.CardMessageId!.Value));
    }

    /// <summary>
    /// The same late tap with data the draft does not match (another text's hash), or from a chat that is not the approvers':
    /// nothing is adopted, nothing edited.
    /// </summary>
    [Fact]
    public async Task Tap_InaccessibleMessageWithDataNotMatchingTheDraft_NotAdoptedNotEdited()
    {
        const string id = "reply:old-copy-forged";
        await using var h = await TelegramHarness.StartAsync();
        var copy = await UnconfirmedCopyAsync(h, id);
        var data = TelegramHarness.ButtonData(copy, "Approve");
        var forged = data[..^4] + (data[^4..] == "0000" ? "1111" : "0000");

        var tap = h.Control.PressButton(copy.MessageId, forged, chatId: h.ChatId, requireButton: false, inaccessible: true);
        await h.Control.WaitForUpdateConfirmedAsync(tap.UpdateId, TelegramHarness.Wait);

        var draft = h.Host.Store.Get(id)!;
        Assert.Null(draft.CardMessageId);
        Assert.NotEqual(DraftState.Approved, draft.State);
        Assert.Empty(h.Control.GetCalls("editMessageText"));
    }

    /// <summary>
    /// Every send of the card answered unreadably: two copies in the chat, none on record (card_unconfirmed). Approve on one
    /// decides and makes it the card; Reject on the other afterwards is answered with the decision and changes nothing, and
    /// both copies end showing the approval without buttons.
    /// </summary>
    [Fact]
    public async Task ApproveOnOneUnconfirmedCopy_ThenRejectOnTheOther_SecondChangesNothingBothShowTheApproval()
    {
        const string id = "reply:two-copies";
        await using var h = await TelegramHarness.StartAsync();
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        h.Control.InjectFault("sendMessage", SandboxFault.ResponseLost(ResponseLossMode.Unreadable), times: 2);
        await h.SubmitAsync(id, "text");
        await Eventually.TrueAsync(() => h.Host.Store.Events(id).Any(e => e.Type == CardRecords.UnconfirmedEvent), "the card recorded as sent unconfirmed");
        var copies = h.Control.GetMessages(h.ChatId).Where(m => m.Text?.Contains(id, StringComparison.Ordinal) == true).ToList();
        Assert.Equal(2, copies.Count);

        var approve = h.Control.PressButton(copies[0].MessageId, TelegramHarness.ButtonData(copies[0], "Approve"));
        Assert.Equal("✅ Approved", (await h.Control.WaitForCallbackAnswerAsync(approve.QueryId, TelegramHarness.Wait)).Text);
        var reject = h.Control.PressButton(copies[1].MessageId, TelegramHarness.ButtonData(copies[1], "Reject"));
        var rejectAnswer = await h.Control.WaitForCallbackAnswerAsync(reject.QueryId, TelegramHarness.Wait);

        Assert.StartsWith("Already approved by " + h.Sandbox.Settings.ApproverName, rejectAnswer.Text, StringComparison.Ordinal);
        var draft = h.Host.Store.Get(id)!;
        Assert.Equal((DraftState.Approved, "approved", (long?)copies[0].MessageId), (draft.State, draft.Decision, draft.CardMessageId));
        Assert.Single(h.Host.Store.Events(id), e => e.Type == DecisionHandler.DecidedEvent);
        foreach (var copy in copies)
        {
            var shown = await h.Control.WaitForEditAsync(h.ChatId, copy.MessageId, TelegramHarness.Wait, m => m.Buttons.Count == 0);
            Assert.StartsWith("✅ Approved by", shown.Text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Reject_TapOnCard_StoresRejectionAndEditsCard()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.SubmitAsync("reply:reject-1", "No thanks");
        var card = await h.WaitForCardAsync("reply:reject-1");

        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Reject"));
        var answer = await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);

        var draft = h.Host.Store.Get("reply:reject-1")!;
        Assert.Equal(DraftState.Rejected, draft.State);
        Assert.Equal("rejected", draft.Decision);
        Assert.Contains("Rejected", answer.Text);
        var edited = await h.Control.WaitForEditAsync(h.ChatId, card.MessageId, TelegramHarness.Wait);
        Assert.StartsWith("❌ Rejected by", edited.Text);
        Assert.Empty(edited.Buttons);
    }

    [Fact]
    public async Task Tap_SecondTapAfterDecision_AnsweredWithCurrentDecisionNothingChanges()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.SubmitAsync("reply:twice", "text");
        var card = await h.WaitForCardAsync("reply:twice");
        var approve = TelegramHarness.ButtonData(card, "Approve");
        var reject = TelegramHarness.ButtonData(card, "Reject");

        var first = h.Control.PressButton(card.MessageId, approve);
        await h.Control.WaitForCallbackAnswerAsync(first.QueryId, TelegramHarness.Wait);
        // The buttons are gone after the edit; an old client may still send the other one.
        var second = h.Control.PressButton(card.MessageId, reject, requireButton: false);
        var answer = await h.Control.WaitForCallbackAnswerAsync(second.QueryId, TelegramHarness.Wait);

        Assert.Contains("Already approved", answer.Text);
        Assert.Equal(DraftState.Approved, h.Host.Store.Get("reply:twice")!.State);
        Assert.Single(h.Host.Store.Events("reply:twice"), e => e.Type == "decided");
    }

    [Fact]
    public async Task Tap_SameUpdateDeliveredTwice_DecidesOnce()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.SubmitAsync("reply:dup-update", "text");
        var card = await h.WaitForCardAsync("reply:dup-update");
        var data = TelegramHarness.ButtonData(card, "Approve");

        var press = h.Control.PressButton(card.MessageId, data);
        await h.Control.WaitForUpdateConfirmedAsync(press.UpdateId, TelegramHarness.Wait);
        // The same callback query again, as Telegram redelivers it when the offset was not confirmed.
        var again = h.Control.EnqueueRawUpdate($$$"""
            {"update_id":0,"callback_query":{"id":"{{{press.QueryId}}}","from":{"id":{{{h.Sandbox.Settings.ApproverId}}},"is_bot":false,"first_name":"Alice"},
             "message":{"message_id":{{{card.MessageId}}},"date":0,"chat":{"id":{{{h.ChatId}}},"type":"private"}},"chat_instance":"1","data":"{{{data}}}"}}
            """);
        await h.Control.WaitForUpdateConfirmedAsync(again, TelegramHarness.Wait);

        Assert.Equal(DraftState.Approved, h.Host.Store.Get("reply:dup-update")!.State);
        Assert.Single(h.Host.Store.Events("reply:dup-update"), e => e.Type == "decided");
    }

    [Fact]
    public async Task Tap_HostRestartedBetweenCardAndTap_StillDecides()
    {
        await using var h = await TelegramHarness.StartAsync();
        var card = await h.SubmitCardedAsync("reply:restart", "survives a restart");

        await h.RestartHostAsync();
        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);

        var draft = h.Host.Store.Get("reply:restart")!;
        Assert.Equal(DraftState.Approved, draft.State);
        Assert.Equal(Sha.Hex("survives a restart"), draft.DecisionSha256);
        // The restarted host did not send a second card.
        Assert.Single(h.Control.GetMessages(h.ChatId), m => m.Text?.Contains("reply:restart", StringComparison.Ordinal) == true);
    }

    /// <summary>
    /// The approver tapped while the service was down; after the restart the tap arrives with its answer window long over,
    /// and Telegram refuses the answer ("query is too old"). The decision still counts: stored, the card edited, the update confirmed.
    /// </summary>
    [Fact]
    public async Task Tap_DeliveredLateAfterADowntime_AnswerRefusedAsTooOldDecisionStoredAndCardEdited()
    {
        await using var h = await TelegramHarness.StartAsync();
        var card = await h.SubmitCardedAsync("reply:late-tap", "tapped while the service was down");
        PressedButton? press = null;

        await h.RestartHostAsync(whileStopped: () =>
        {
            press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
            Assert.Equal(1, h.Control.ExpireCallbackQueries());
        });
        await h.Control.WaitForUpdateConfirmedAsync(press!.UpdateId, TelegramHarness.Wait);

        var edited = await h.Control.WaitForEditAsync(h.ChatId, card.MessageId, TelegramHarness.Wait, m => m.Buttons.Count == 0);
        Assert.Contains("Approved", edited.Text, StringComparison.Ordinal);
        var draft = h.Host.Store.Get("reply:late-tap")!;
        Assert.Equal(DraftState.Approved, draft.State);
        Assert.Equal(Sha.Hex("tapped while the service was down"), draft.DecisionSha256);
        var answer = Assert.Single(h.Control.GetCalls("answerCallbackQuery"));
        Assert.Equal(400, answer.StatusCode);
        Assert.Contains("query is too old", answer.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Card_ExecutionOutcome_CardEditedWithResult()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.SubmitAsync("reply:outcome", "text");
        var card = await h.WaitForCardAsync("reply:outcome");
        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        await h.Control.WaitForEditAsync(h.ChatId, card.MessageId, TelegramHarness.Wait);

        await h.Host.Store.TransitionAsync(new Transition("reply:outcome", [DraftState.Approved], DraftState.Executing, "exec_started", "test"));
        await h.Host.Store.TransitionAsync(new Transition("reply:outcome", [DraftState.Executing], DraftState.Failed, "exec_failed", "test")
        {
            Set = new Dictionary<string, object?> { ["exec_error"] = "HTTP 500 from sink" },
        });

        var edited = await h.Control.WaitForEditAsync(h.ChatId, card.MessageId, TelegramHarness.Wait, m => m.Text!.Contains("Execution failed", StringComparison.Ordinal));
        Assert.StartsWith("✅ Approved by " + h.Sandbox.Settings.ApproverName + " · ⚠️ Execution failed: HTTP 500 from sink", edited.Text);
    }

    [Fact]
    public async Task Approve_DraftExecutedBeforeTheHandlerEditsTheCard_CardKeepsShowingTheNewerOutcome()
    {
        const string id = "reply:overtaken";
        await using var h = await TelegramHarness.StartAsync();
        var card = await h.SubmitCardedAsync(id, "text");
        // Holding the answer holds the handler's card edit too: it comes after the answer, as the approver must
        // never see "Approved" on a card before the decision is stored and acknowledged.
        var answer = new SandboxGate();
        h.Control.InjectFault("answerCallbackQuery", SandboxFault.Hold(answer));

        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        await answer.Reached.WaitAsync(TelegramHarness.Wait);
        await h.Host.Store.TransitionAsync(new Transition(id, [DraftState.Approved], DraftState.Executing, "exec_started", "test"));
        await h.Host.Store.TransitionAsync(new Transition(id, [DraftState.Executing], DraftState.Executed, "executed", "test")
        {
            Set = new Dictionary<string, object?> { ["exec_result"] = "https://example.test/posted" },
        });
        await h.Control.WaitForEditAsync(h.ChatId, card.MessageId, TelegramHarness.Wait, m => m.Text!.Contains("Executed", StringComparison.Ordinal));
        answer.Release();
        await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        var answered = await h.Control.WaitForCallAsync(c => c.Method == "answerCallbackQuery" && c.StatusCode == 200, TelegramHarness.Wait);
        await h.Control.WaitForCallAsync(c => c.Method == "editMessageText" && c.Sequence > answered.Sequence, TelegramHarness.Wait);

        var shown = Assert.Single(h.Control.GetMessages(h.ChatId), m => m.MessageId == card.MessageId);
        Assert.Contains("Executed", shown.Text, StringComparison.Ordinal);
        Assert.Contains("https://example.test/posted", shown.Text, StringComparison.Ordinal);
    }

    /// <summary>The follow-ups' backoffs in these tests are seconds; their look at the cards behind, minutes away, is not watched.</summary>
    private static readonly TimeSpan FollowUpBackoffs = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Telegram answers the decision's card edit 429 with a long retry_after (a group's limit is shared by sends and edits).
    /// The update poller made that edit and waited retry_after out before the next update, so the next approver's tap
    /// went unanswered until its callback expired. The edit is handed to the card follow-ups, retried after retry_after;
    /// the next tap is answered and its card edited at once.
    /// </summary>
    [Fact]
    public async Task Tap_DecisionEditAnswered429_NextTapAnsweredAtOnceEditRetriedAfterRetryAfter()
    {
        var clock = new SignallingClock(FollowUpBackoffs);
        await using var h = await TelegramHarness.StartAsync(services: s => s.UseClock<CardFollowUps>(clock));
        var start = clock.GetUtcNow();
        var first = await h.SubmitCardedAsync("reply:throttled-a", "text");
        var second = await h.SubmitCardedAsync("reply:throttled-b", "text");
        h.Control.InjectFault("editMessageText", SandboxFault.TooManyRequests(30));

        var pressFirst = h.Control.PressButton(first.MessageId, TelegramHarness.ButtonData(first, "Approve"));
        await h.Control.WaitForCallbackAnswerAsync(pressFirst.QueryId, TelegramHarness.Wait);
        var pressSecond = h.Control.PressButton(second.MessageId, TelegramHarness.ButtonData(second, "Approve"));

        Assert.Equal("✅ Approved", (await h.Control.WaitForCallbackAnswerAsync(pressSecond.QueryId, TelegramHarness.Wait)).Text);
        await h.Control.WaitForEditAsync(h.ChatId, second.MessageId, TelegramHarness.Wait, m => m.Buttons.Count == 0);
        Assert.Equal(start + TimeSpan.FromSeconds(30), await clock.NextTimerAsync(TelegramHarness.Wait));
        Assert.NotEmpty(h.Control.GetMessage(h.ChatId, first.MessageId)!.AllButtons);
        clock.Advance(TimeSpan.FromSeconds(30));
        var shown = await h.Control.WaitForEditAsync(h.ChatId, first.MessageId, TelegramHarness.Wait, m => m.Buttons.Count == 0);
        Assert.StartsWith("✅ Approved by", shown.Text, StringComparison.Ordinal);
        Assert.Single(h.Control.GetCalls("editMessageText"), c => c.StatusCode == 429);
    }

    [Fact]
    public async Task Card_OutcomeEditFailsWhileTelegramIsDown_EditedOnceItIsBack()
    {
        const string id = "reply:outage";
        // The follow-ups wait on a clock the test moves: the retry is seen waiting its backoff, and comes when the test says.
        var clock = new SignallingClock(FollowUpBackoffs);
        await using var h = await TelegramHarness.StartAsync(["ApprovalBot:Telegram:MaxCallRetries=1"], services: s => s.UseClock<CardFollowUps>(clock));
        var start = clock.GetUtcNow();
        // Recorded first: a tap on a card not yet recorded makes the outbox edit it too, and that edit could meet the faults below.
        var card = await h.SubmitCardedAsync(id, "text");
        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        await h.Control.WaitForEditAsync(h.ChatId, card.MessageId, TelegramHarness.Wait);
        // Both calls of the first follow-up (one call, one resend) fail: only the follow-up's own retry can get through.
        h.Control.InjectFault("editMessageText", SandboxFault.Error(502, "Bad Gateway"), times: 2);

        await h.Host.Store.TransitionAsync(new Transition(id, [DraftState.Approved], DraftState.Executing, "exec_started", "test"));
        await h.Host.Store.TransitionAsync(new Transition(id, [DraftState.Executing], DraftState.Failed, "exec_failed", "test")
        {
            Set = new Dictionary<string, object?> { ["exec_error"] = "HTTP 500 from sink" },
        });

        Assert.Equal(start + TimeSpan.FromSeconds(1), await clock.NextTimerAsync(TelegramHarness.Wait));
        Assert.DoesNotContain("Execution failed", h.Control.GetMessage(h.ChatId, card.MessageId)!.Text, StringComparison.Ordinal);
        clock.Advance(TimeSpan.FromSeconds(1));
        var edited = await h.Control.WaitForEditAsync(h.ChatId, card.MessageId, TelegramHarness.Wait, m => m.Text!.Contains("Execution failed", StringComparison.Ordinal));
        Assert.Contains("HTTP 500 from sink", edited.Text, StringComparison.Ordinal);
        Assert.Equal(2, h.Control.GetCalls("editMessageText").Count(c => c.StatusCode == 502));
    }

    [Theory]
    [InlineData("Reject", "❌ Rejected by")]
    [InlineData("Approve", "✅ Approved by")] // reply has no executor route here: nothing else edits the card later
    public async Task Tap_CardEditFailsLongerThanTheClientResends_RetriedWithBackoffUntilTheCardShowsTheDecisionWithoutButtons(string button, string shown)
    {
        const string id = "reply:edit-outage";
        // The follow-ups wait on a clock the test moves, so each retry's backoff is seen as it begins (how long, and that
        // nothing is sent before it is over) instead of measured afterwards on the wall clock.
        var clock = new SignallingClock(FollowUpBackoffs);
        await using var h = await TelegramHarness.StartAsync(["ApprovalBot:Telegram:MaxCallRetries=1"], services: s => s.UseClock<CardFollowUps>(clock));
        var start = clock.GetUtcNow();
        var card = await h.SubmitCardedAsync(id, "text");
        // The handler's edit (one call, one resend) and the first retry (the same) fail: only the second retry gets through.
        h.Control.InjectFault("editMessageText", SandboxFault.Error(502, "Bad Gateway"), times: 4);

        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, button));
        await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);

        // Backoff: the first retry waits CardRetryBaseDelaySeconds (1 s), the second twice that.
        Assert.Equal(start + TimeSpan.FromSeconds(1), await clock.NextTimerAsync(TelegramHarness.Wait));
        Assert.Equal(2, h.Control.GetCalls("editMessageText").Count);
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(start + TimeSpan.FromSeconds(1 + 2), await clock.NextTimerAsync(TelegramHarness.Wait));
        Assert.Equal(4, h.Control.GetCalls("editMessageText").Count);
        Assert.Equal(0, h.Control.GetMessage(h.ChatId, card.MessageId)!.EditCount);
        clock.Advance(TimeSpan.FromSeconds(2));

        var edited = await h.Control.WaitForEditAsync(h.ChatId, card.MessageId, TelegramHarness.Wait);
        // The sandbox shows the edit before it logs the call that made it.
        await h.Control.WaitForCallAsync(c => c.Method == "editMessageText" && c.Ok, TelegramHarness.Wait);

        Assert.StartsWith(shown + " " + h.Sandbox.Settings.ApproverName, edited.Text, StringComparison.Ordinal);
        Assert.Empty(edited.Buttons);
        Assert.Equal([502, 502, 502, 502, 200], h.Control.GetCalls("editMessageText").Select(c => c.StatusCode));
    }

    [Theory]
    [InlineData("text", 4096 - 20)]
    [InlineData("card", 4096 - 20)]
    [InlineData("card", 4096 - 60)]
    [InlineData("card", 4096 - 100)]
    public async Task Approve_TextNearTheLimit_EditedCardFitsAndClaimsAFileOnlyIfOneWasSent(string measured, int length)
    {
        const string id = "long:near-limit";
        await using var h = await TelegramHarness.StartAsync();
        // "card": the whole card (header, blank line, text) is this long before the decision adds its status line.
        var header = CardRenderer.Render(new Draft { Id = id, Seq = 1, Kind = "long", Agent = "test-agent", Text = "", Sha256 = Sha.Hex("") }).Length;
        var text = new string('x', measured == "text" ? length : length - header);
        await h.SubmitAsync(id, text, kind: "long");
        var card = await h.WaitForCardAsync(id);
        var document = h.Control.GetMessages(h.ChatId).SingleOrDefault(m => m.Document is not null);

        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        var edited = await h.Control.WaitForEditAsync(h.ChatId, card.MessageId, TelegramHarness.Wait);

        Assert.StartsWith("✅ Approved by " + h.Sandbox.Settings.ApproverName, edited.Text, StringComparison.Ordinal);
        Assert.True(edited.Text!.Length <= 4096, $"edited card is {edited.Text.Length} characters");
        Assert.Equal(document is not null, card.Text!.Contains("attached file", StringComparison.Ordinal));
        Assert.Equal(document is not null, edited.Text.Contains("attached file", StringComparison.Ordinal));
        if (document is null)
        {
            Assert.EndsWith(text, edited.Text, StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal(text, System.Text.Encoding.UTF8.GetString(document.Document!.Content));
        }
    }

    private const string NotModified =
        "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message";

    [Fact]
    public async Task CardEdits_MessageIsNotModified_CountedAsDoneNotFailedNotRetried()
    {
        const string id = "reply:not-modified";
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        var card = await h.SubmitCardedAsync(id, "text");
        // Telegram's answer when the card already shows what the edit would show (e.g. the edit landed but its answer was lost).
        h.Control.InjectFault("editMessageText", SandboxFault.Error(400, NotModified), times: 2);

        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        await h.Control.WaitForCallAsync(c => c.Method == "editMessageText", TelegramHarness.Wait);
        await h.Host.Store.TransitionAsync(new Transition(id, [DraftState.Approved], DraftState.Executing, "exec_started", "test"));
        await h.Host.Store.TransitionAsync(new Transition(id, [DraftState.Executing], DraftState.Executed, "executed", "test"));
        await Eventually.TrueAsync(() => logs.Entries.Any(e => e.Message.StartsWith($"Card of {id} now shows executed", StringComparison.Ordinal)), "the follow-up to count its edit as done");

        var draft = h.Host.Store.Get(id)!;
        Assert.Equal(DraftState.Executed, draft.State);
        Assert.Null(draft.CardError);
        Assert.Equal(card.MessageId, draft.CardMessageId);
        // One call each, both answered "not modified": nothing resent, nothing retried, no failure logged.
        Assert.Equal(2, h.Control.GetCalls("editMessageText").Count);
        Assert.All(h.Control.GetCalls("editMessageText"), c => Assert.Equal(400, c.StatusCode));
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Warning && e.Category.StartsWith("ApprovalBot.Telegram", StringComparison.Ordinal));
        Assert.DoesNotContain(h.Host.Store.Events(id), e => e.Type.Contains("fail", StringComparison.Ordinal));
    }
    /// <summary>
    /// Telegram refuses the decision's edit for good (the card was deleted by hand as the tap came in): the sender says so
    /// once, naming the card and that it is recorded as card_edit_refused; the handler adds no second warning that the card
    /// "could not be edited yet", which the refusal rules out.
    /// </summary>
    [Fact]
    public async Task Tap_CardEditRefusedForGood_SaidOnceByTheSender()
    {
        const string id = "reply:tap-edit-refused";
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        var card = await h.SubmitCardedAsync(id, "text");
        h.Control.InjectFault("editMessageText", SandboxFault.Error(400, "Bad Request: message to edit not found"));

        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        await h.Control.WaitForUpdateConfirmedAsync(press.UpdateId, TelegramHarness.Wait);

        Assert.Equal(DraftState.Approved, h.Host.Store.Get(id)!.State);
        Assert.Contains(h.Host.Store.Events(id), e => e.Type == "card_edit_refused");
        var warning = Assert.Single(logs.Entries, e => e.Level >= LogLevel.Warning && e.Message.Contains(id, StringComparison.Ordinal));
        Assert.Contains("recorded as card_edit_refused, not tried again until the draft changes", warning.Message, StringComparison.Ordinal);
    }

    /// <summary>A draft whose card was sent with both answers unreadable (card_unconfirmed, none on record): its copy in the chat.</summary>
    private static async Task<SentMessage> UnconfirmedCopyAsync(TelegramHarness h, string id)
    {
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        h.Control.InjectFault("sendMessage", SandboxFault.ResponseLost(ResponseLossMode.Unreadable), times: 2);
        await h.SubmitAsync(id, "text");
        await Eventually.TrueAsync(() => h.Host.Store.Events(id).Any(e => e.Type == CardRecords.UnconfirmedEvent), "the card recorded as sent unconfirmed");
        return h.Control.GetMessages(h.ChatId).First(m => m.Text?.Contains(id, StringComparison.Ordinal) == true);
    }
}
