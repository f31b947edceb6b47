using System.Text.Json.Nodes;
using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Reconciliation;
using ApprovalBot.Sandbox;
using ApprovalBot.Telegram.Updates;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalBot.Tests.Telegram;

/// <summary>
/// Retry / Mark done on an escalation answer the outcome the message reported. A tap that reaches the bot after a Retry
/// ran the draft again and it came out unknown (or failed) again, whether the same update delivered again or the same
/// button pressed again (a second approver, a late double tap), must not act on that new outcome nobody has seen.
/// </summary>
public sealed class EscalationActionHandlerTests
{
    private const string Unknown = "outcome unknown; check the sink";

    /// <summary>Approved, then an attempt cut off mid-run on a route that does not dedupe: unknown, as the executor leaves it.</summary>
    private static async Task<Draft> RunCutOffAsync(DraftStore store, string id, bool approve)
    {
        if (approve)
        {
            await DraftFixtures.ApproveAsync(store, id, "post me once");
        }
        await DraftFixtures.MoveAsync(store, id, DraftState.Approved, DraftState.Executing);
        await DraftFixtures.MoveAsync(store, id, DraftState.Executing, DraftState.Unknown);
        return store.Get(id)!;
    }

    /// <summary>The escalation the reconciler sends for an unknown draft: bound to the state it found the draft in.</summary>
    private static async Task<SentMessage> EscalateAsync(TelegramHarness h, Draft d, int after = 0)
    {
        await h.Host.Services.GetRequiredService<IEscalationChannel>().SendAsync(new Escalation("1 stale needs attention", [
            new EscalatedGap(d.Id, d.Seq, d.Sha256, "stale/awaiting_human", d.StateSince, Unknown,
                [ApproverAction.Retry, ApproverAction.MarkDone, ApproverAction.Discard], Reminder: false) { StateSince = d.StateSince },
        ]), CancellationToken.None);
        // The escalation, not the draft's own card (which names the draft too and has Approve/Reject buttons).
        return await h.Control.WaitForMessageAsync(
            m => m.MessageId > after && m.Text?.Contains(d.Id, StringComparison.Ordinal) == true
                && m.AllButtons.Any(b => b.Text.Contains("Retry", StringComparison.Ordinal)),
            TelegramHarness.Wait);
    }

    private static int Retries(DraftStore store, string id) => store.Events(id).Count(e => e.Type == ApproverActions.RetryRequested);

    /// <summary>An action's ledger event keeps the raw callback, as a decision's does: before, it kept only the action's name.</summary>
    [Theory]
    [InlineData("Retry", ApproverActions.RetryRequested)]
    [InlineData("Mark done", "marked_done")]
    [InlineData("Discard", "discarded")]
    public async Task ActionTap_LedgerEventKeepsTheRawCallbackLikeADecision(string button, string eventType)
    {
        await using var h = await TelegramHarness.StartAsync();
        var store = h.Host.Store;
        var draft = await RunCutOffAsync(store, "reply:recorded", approve: true);
        var message = await EscalateAsync(h, draft);
        var data = TelegramHarness.ButtonData(message, button);

        var press = h.Control.PressButton(message.MessageId, data);
        await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);

        var recorded = Assert.Single(store.Events(draft.Id), e => e.Type == eventType);
        Assert.Equal("telegram:" + h.Control.ApproverId.ToString(System.Globalization.CultureInfo.InvariantCulture), recorded.Actor);
        var callback = JsonNode.Parse(recorded.Details!)!["callback"]!;
        Assert.Equal(
            (press.QueryId, h.Control.ApproverId, h.ChatId, (long)message.MessageId, data, draft.Sha256[..16]),
            ((string?)callback["query_id"], (long?)callback["user_id"], (long?)callback["chat_id"], (long?)callback["message_id"], (string?)callback["data"],
                (string?)callback["bound_sha256_prefix"]));
        Assert.StartsWith(h.Sandbox.Settings.ApproverName, (string?)callback["user_name"], StringComparison.Ordinal);
    }

    /// <summary>
    /// Retry, Mark done and Discard are gated like a decision: data bound to another text (a wrong hash), naming no stored
    /// draft (an unknown seq), or pressed in another chat is refused, recorded once (an orphan callback, or a security event
    /// for the chat) and answered; the draft does not move.
    /// </summary>
    [Theory]
    [InlineData("Retry", "wrong hash")]
    [InlineData("Retry", "unknown seq")]
    [InlineData("Retry", "another chat")]
    [InlineData("Mark done", "wrong hash")]
    [InlineData("Mark done", "unknown seq")]
    [InlineData("Mark done", "another chat")]
    [InlineData("Discard", "wrong hash")]
    [InlineData("Discard", "unknown seq")]
    [InlineData("Discard", "another chat")]
    public async Task ActionTap_WrongHashUnknownSeqOrAnotherChat_RefusedRecordedDraftDoesNotMove(string button, string forged)
    {
        await using var h = await TelegramHarness.StartAsync();
        var store = h.Host.Store;
        var draft = await RunCutOffAsync(store, "reply:forged-action", approve: true);
        var message = await EscalateAsync(h, draft);
        var parts = TelegramHarness.ButtonData(message, button).Split(':');
        if (forged == "wrong hash")
        {
            parts[2] = new string('0', 16);
        }
        else if (forged == "unknown seq")
        {
            parts[1] = "999999";
        }

        var press = h.Control.PressButton(message.MessageId, string.Join(':', parts), chatId: forged == "another chat" ? h.Control.GroupChatId : null, requireButton: false);
        var answer = await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        await h.Control.WaitForUpdateConfirmedAsync(press.UpdateId, TelegramHarness.Wait);

        var (type, reason, draftId, said) = forged switch
        {
            "wrong hash" => (OrphanCallbacks.EventType, "hash_mismatch", draft.Id, OrphanCallbacks.Answer),
            "unknown seq" => (OrphanCallbacks.EventType, "unknown_draft", null, OrphanCallbacks.Answer),
            _ => (CallbackRouter.SecurityEvent, "wrong_chat", (string?)null, "⛔ Not authorized."),
        };
        Assert.Equal((said, true), (answer.Text, answer.ShowAlert));
        var recorded = Assert.Single(store.EventsOfType(type));
        Assert.Equal(draftId, recorded.DraftId);
        Assert.Equal(reason, (string?)JsonNode.Parse(recorded.Details!)!["reason"]);
        var now = store.Get(draft.Id)!;
        Assert.Equal((DraftState.Unknown, draft.StateSince), (now.State, now.StateSince));
        Assert.DoesNotContain(store.Events(draft.Id), e => e.Type is ApproverActions.RetryRequested or "marked_done" or "discarded");
    }

    /// <summary>Discard delivered twice (offset not confirmed): cancelled once, one ledger event.</summary>
    [Fact]
    public async Task DiscardTap_DeliveredTwice_DiscardedOnce()
    {
        await using var h = await TelegramHarness.StartAsync();
        var store = h.Host.Store;
        var draft = await RunCutOffAsync(store, "reply:discard-twice", approve: true);
        var message = await EscalateAsync(h, draft);
        var data = TelegramHarness.ButtonData(message, "Discard");
        var press = h.Control.PressButton(message.MessageId, data);
        Assert.Equal($"🗑 Discarded {draft.Id}.", (await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait)).Text);
        var cancelled = store.Get(draft.Id)!;

        var again = h.RedeliverPress(press, message.MessageId, data, h.Control.ApproverId);
        await h.Control.WaitForUpdateConfirmedAsync(again, TelegramHarness.Wait);

        Assert.Single(store.Events(draft.Id), e => e.Type == "discarded");
        var now = store.Get(draft.Id)!;
        Assert.Equal((DraftState.Cancelled, cancelled.StateSince), (now.State, now.StateSince));
    }

    /// <summary>
    /// A forged Dismiss (a stray-tap gap's button whose hash is not the binding of its event id) is refused and recorded as an
    /// orphan callback (bad_dismiss); the stray tap it names stays open.
    /// </summary>
    [Fact]
    public async Task DismissTap_Forged_RefusedRecordedGapStaysOpen()
    {
        await using var h = await TelegramHarness.StartAsync();
        var card = await h.SubmitCardedAsync("reply:stray", "text");
        var stray = h.Control.PressButton(card.MessageId, "a:999:0000000000000000", requireButton: false);
        await h.Control.WaitForUpdateConfirmedAsync(stray.UpdateId, TelegramHarness.Wait);
        var strayEvent = Assert.Single(h.Host.Store.EventsOfType(OrphanCallbacks.EventType));

        var press = h.Control.PressButton(card.MessageId, $"ex:{strayEvent.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)}:0000000000000000", requireButton: false);
        var answer = await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        await h.Control.WaitForUpdateConfirmedAsync(press.UpdateId, TelegramHarness.Wait);

        Assert.Equal(OrphanCallbacks.Answer, answer.Text);
        var orphans = h.Host.Store.EventsOfType(OrphanCallbacks.EventType);
        Assert.Equal(["unknown_draft", "bad_dismiss"], orphans.Select(e => (string?)JsonNode.Parse(e.Details!)!["reason"]));
        Assert.Empty(h.Host.Store.EventsOfType(GapDismissals.EventType));
    }

    [Fact]
    public async Task RetryTap_DeliveredAgainAfterTheRetriedDraftCameOutUnknownAgain_ChangesNothing()
    {
        await using var h = await TelegramHarness.StartAsync();
        var store = h.Host.Store;
        var first = await RunCutOffAsync(store, "reply:unknown-twice", approve: true);
        var message = await EscalateAsync(h, first);
        var data = TelegramHarness.ButtonData(message, "Retry");
        var press = h.Control.PressButton(message.MessageId, data);
        Assert.Contains("Retry requested", (await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait)).Text);
        await h.Control.WaitForUpdateConfirmedAsync(press.UpdateId, TelegramHarness.Wait);

        // The retried run is cut off too: a new unknown outcome, not yet escalated, not yet looked at.
        var second = await RunCutOffAsync(store, first.Id, approve: false);
        var again = h.RedeliverPress(press, message.MessageId, data, h.Control.ApproverId);
        await h.Control.WaitForUpdateConfirmedAsync(again, TelegramHarness.Wait);

        Assert.Equal(DraftState.Unknown, store.Get(first.Id)!.State);
        Assert.Equal(second.StateSince, store.Get(first.Id)!.StateSince);
        Assert.Equal(1, Retries(store, first.Id));
    }

    [Fact]
    public async Task RetryAndMarkDone_PressedAgainOnTheSameMessageAfterANewUnknown_RefusedWithWhy()
    {
        await using var h = await TelegramHarness.StartAsync();
        var store = h.Host.Store;
        var first = await RunCutOffAsync(store, "reply:unknown-again", approve: true);
        var message = await EscalateAsync(h, first);
        var retry = h.Control.PressButton(message.MessageId, TelegramHarness.ButtonData(message, "Retry"));
        Assert.Contains("Retry requested", (await h.Control.WaitForCallbackAnswerAsync(retry.QueryId, TelegramHarness.Wait)).Text);
        await RunCutOffAsync(store, first.Id, approve: false);

        var secondRetry = h.Control.PressButton(message.MessageId, TelegramHarness.ButtonData(message, "Retry"));
        var retryAnswer = await h.Control.WaitForCallbackAnswerAsync(secondRetry.QueryId, TelegramHarness.Wait);
        var markDone = h.Control.PressButton(message.MessageId, TelegramHarness.ButtonData(message, "Mark done"));
        var markDoneAnswer = await h.Control.WaitForCallbackAnswerAsync(markDone.QueryId, TelegramHarness.Wait);

        Assert.All([retryAnswer.Text, markDoneAnswer.Text], text =>
        {
            Assert.StartsWith("Nothing changed: reply:unknown-again is unknown now", text, StringComparison.Ordinal);
            Assert.EndsWith("a later outcome than this message reports. Act on its latest escalation.", text, StringComparison.Ordinal);
        });
        Assert.Equal(DraftState.Unknown, store.Get(first.Id)!.State);
        Assert.Equal(1, Retries(store, first.Id));
        Assert.DoesNotContain(store.Events(first.Id), e => e.Type == "marked_done");

        // The escalation of the new outcome acts on it.
        var latest = await EscalateAsync(h, store.Get(first.Id)!, after: message.MessageId);
        var done = h.Control.PressButton(latest.MessageId, TelegramHarness.ButtonData(latest, "Mark done"));
        Assert.Contains("Marked", (await h.Control.WaitForCallbackAnswerAsync(done.QueryId, TelegramHarness.Wait)).Text);
        Assert.Equal(DraftState.Executed, store.Get(first.Id)!.State);
    }

    [Fact]
    public async Task RetryAndMarkDone_PressedAgainOnceTheDraftWasMarkedDone_AnsweredWithoutPointingAtAnotherEscalation()
    {
        await using var h = await TelegramHarness.StartAsync();
        var store = h.Host.Store;
        var draft = await RunCutOffAsync(store, "reply:done-then-tapped", approve: true);
        var message = await EscalateAsync(h, draft);
        var done = h.Control.PressButton(message.MessageId, TelegramHarness.ButtonData(message, "Mark done"));
        Assert.Contains("Marked", (await h.Control.WaitForCallbackAnswerAsync(done.QueryId, TelegramHarness.Wait)).Text);

        var doneAgain = h.Control.PressButton(message.MessageId, TelegramHarness.ButtonData(message, "Mark done"));
        var doneAgainAnswer = await h.Control.WaitForCallbackAnswerAsync(doneAgain.QueryId, TelegramHarness.Wait);
        var retry = h.Control.PressButton(message.MessageId, TelegramHarness.ButtonData(message, "Retry"));
        var retryAnswer = await h.Control.WaitForCallbackAnswerAsync(retry.QueryId, TelegramHarness.Wait);

        // Was "… a later outcome than this message reports. Act on its latest escalation.": an executed draft has none, so
        // the approver went looking for a message that never comes.
        Assert.All([doneAgainAnswer.Text, retryAnswer.Text], text =>
        {
            Assert.StartsWith("Nothing changed: reply:done-then-tapped is executed now, since ", text, StringComparison.Ordinal);
            Assert.EndsWith("a later outcome than this message reports.", text, StringComparison.Ordinal);
        });
        Assert.Equal(DraftState.Executed, store.Get(draft.Id)!.State);
        Assert.Equal(0, Retries(store, draft.Id));
    }

    [Fact]
    public async Task MarkDone_OnAnUnknownDraft_ItsViewSaysWhoMarkedItDoneBesideTheLastAttemptsError()
    {
        await using var h = await TelegramHarness.StartAsync();
        var store = h.Host.Store;
        await DraftFixtures.ApproveAsync(store, "reply:checked", "post me once");
        await DraftFixtures.MoveAsync(store, "reply:checked", DraftState.Approved, DraftState.Executing,
            new Dictionary<string, object?> { ["exec_attempts"] = 1 });
        await DraftFixtures.MoveAsync(store, "reply:checked", DraftState.Executing, DraftState.Unknown,
            new Dictionary<string, object?> { ["exec_error"] = "timed out after 30 s; it may or may not have taken effect" });
        var message = await EscalateAsync(h, store.Get("reply:checked")!);

        var done = h.Control.PressButton(message.MessageId, TelegramHarness.ButtonData(message, "Mark done"));
        Assert.Contains("Marked", (await h.Control.WaitForCallbackAnswerAsync(done.QueryId, TelegramHarness.Wait)).Text);
        await using var client = await h.Host.ConnectAsync();
        var view = (await client.GetAsync("reply:checked")).Draft!;

        Assert.Equal("executed", view.State);
        // The last attempt's error keeps its meaning; before, nothing beside it said that a person, not a run, settled it.
        Assert.Equal("timed out after 30 s; it may or may not have taken effect", view.Execution!.Error);
        Assert.Equal(new MarkedDoneView(h.Control.ApproverId, "Alice", store.Get("reply:checked")!.StateSince), view.Execution.MarkedDone);
    }
}
