using System.Globalization;
using System.Text.Json.Nodes;
using ApprovalBot.Drafts;
using ApprovalBot.Execution;
using ApprovalBot.Reconciliation;
using ApprovalBot.Sandbox;
using ApprovalBot.Telegram.Cards;
using ApprovalBot.Telegram.Updates;
using ApprovalBot.Tests.Execution;
using ApprovalBot.Tests.Infrastructure;
using ApprovalBot.Tests.Reconciliation;
using Microsoft.Extensions.DependencyInjection;
using Quartz;

namespace ApprovalBot.Tests.Telegram;

/// <summary>
/// A draft awaiting a decision whose card is gone from the chat (an admin deleted it) or out of reach: its
/// <c>awaiting_decision</c> escalation offers 🔁 Resend card. The host as composed in Program.cs (Telegram against the
/// sandbox over HTTP, executor and reconcile jobs, a command route), both job intervals an hour so every cycle is one the
/// test caused, on a clock the test moves: <c>reply</c> is stale after an hour; <c>brief</c> stale after 10 minutes and
/// expired after 30.
/// </summary>
public sealed class CardResenderTests : IAsyncLifetime
{
    private readonly JobRuns _jobs = new();
    private readonly RouteScript _route = new();
    private readonly ManualTimeProvider _clock = new(DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
    private TelegramHarness _h = null!;

    public async Task InitializeAsync()
    {
        _h = await TelegramHarness.StartAsync(
            settings:
            [
                .. _route.Settings("reply"), "ApprovalBot:Kinds:reply:StaleAfter=01:00:00",
                "ApprovalBot:Kinds:brief:MaxLength=280", "ApprovalBot:Kinds:brief:StaleAfter=00:10:00", "ApprovalBot:Kinds:brief:ExpireAfter=00:30:00",
                "ApprovalBot:Execution:IntervalSeconds=3600", "ApprovalBot:Reconciliation:IntervalSeconds=3600",
            ],
            services: s => s.AddSingleton<TimeProvider>(_clock),
            compose: b =>
            {
                b.AddApprovalJobs(q => q.AddJobListener(_jobs, [GroupMatcher<JobKey>.AnyGroup()]));
                b.AddReconciliation();
            });
        // Both jobs fire once at start (the executor's cycle then fires the reconciler once more), and the cycle held for the
        // updates that waited at Telegram runs; after that only the test's.
        await _jobs.WaitForAsync(ApprovalJobKeys.Executor, 1);
        await _jobs.WaitForAsync(ApprovalJobKeys.Reconcile, 2);
        await ApprovalBot.Tests.Reconciliation.HeldCycle.SettledAsync(_h.Host.Services, TelegramHarness.Wait);
    }

    public async Task DisposeAsync()
    {
        await _h.DisposeAsync();
        _route.Dispose();
    }

    private DraftStore Store => _h.Host.Store;

    private SandboxControl Control => _h.Control;

    /// <summary>Past the kind's StaleAfter, a reconcile cycle escalates the draft; its message, with the Resend card button.</summary>
    private async Task<SentMessage> StaleEscalationAsync(string id, TimeSpan after)
    {
        _clock.Advance(after);
        await _h.Host.Services.GetRequiredService<Reconciler>().RunOnceAsync(default);
        var seq = Store.Get(id)!.Seq;
        var escalation = await Control.WaitForMessageAsync(
            m => m.Text is { } t && t.Contains(Gaps.AwaitingDecision, StringComparison.Ordinal) && t.Contains(id, StringComparison.Ordinal)
                && m.AllButtons.Any(b => b.Text == $"🔁 Resend card #{seq}"),
            TelegramHarness.Wait);
        return escalation;
    }

    private async Task<(PressedButton Press, CallbackAnswer Answer)> PressAsync(SentMessage message, string label, long? from = null)
    {
        var press = Control.PressButton(message.MessageId, TelegramHarness.ButtonData(message, label), from ?? Control.ApproverId);
        return (press, await Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait));
    }

    /// <summary>The card sent after <paramref name="after"/> for the draft, with its buttons as sent.</summary>
    private Task<SentMessage> NewCardAsync(string id, int after) =>
        Control.WaitForMessageAsync(m => m.MessageId > after && m.Document is null && m.Text is { } t && t.Contains("ID: " + id, StringComparison.Ordinal)
            && m.Versions[0].Buttons.Count > 0, TelegramHarness.Wait);

    private int Cards(string id) => Control.GetMessages(_h.ChatId).Count(m => m.Text is { } t && t.Contains("ID: " + id, StringComparison.Ordinal));

    private IReadOnlyList<LedgerEvent> Moves(string id) => [.. Store.Events(id).Where(e => e.Type == CardRecords.MovedEvent)];

    [Fact]
    public async Task DeletedCard_ResendOnItsStaleEscalation_NewCardIsTheCardAndItsApprovalExecutesOnce()
    {
        const string id = "reply:deleted-card";
        var old = await _h.SubmitCardedAsync(id, "Thanks, shipping Friday.");
        Control.DeleteMessage(_h.ChatId, old.MessageId);

        var escalation = await StaleEscalationAsync(id, TimeSpan.FromMinutes(61));
        var (_, answer) = await PressAsync(escalation, "Resend card");
        var card = await NewCardAsync(id, escalation.MessageId);

        Assert.Equal($"🔁 Sent the card of {id} again below: decide there.", answer.Text);
        Assert.False(answer.ShowAlert);
        var draft = Store.Get(id)!;
        Assert.Equal((DraftState.Carded, (long?)card.MessageId), (draft.State, draft.CardMessageId));
        Assert.True(draft.CardShowsCurrentState);
        var moved = JsonNode.Parse(Assert.Single(Moves(id)).Details!)!;
        Assert.Equal("telegram:" + Control.ApproverId.ToString(CultureInfo.InvariantCulture), Assert.Single(Moves(id)).Actor);
        Assert.Equal(CardSender.ResendRequestedReason, (string?)moved["reason"]);
        Assert.Equal(old.MessageId, (long?)moved["from_message_id"]);
        Assert.Equal(card.MessageId, (long?)moved["message_id"]);
        Assert.Equal(Control.ApproverId, (long?)moved["requested_by"]);
        Assert.Equal("button", (string?)moved["via"]);
        // The deleted card's "sent again below" edit finds no message: expected, and not a card_edit_refused of the card on record.
        Assert.DoesNotContain(Store.Events(id), e => e.Type == CardSender.EditRefusedEvent);

        var (_, approved) = await PressAsync(card, "Approve");
        var executed = await _h.WaitForStateAsync(id, DraftState.Executed);

        Assert.Equal("✅ Approved", approved.Text);
        Assert.Single(_route.Runs());
        Assert.Single(_route.Effects());
        Assert.Equal(card.MessageId, executed.CardMessageId);
        await Control.WaitForEditAsync(_h.ChatId, card.MessageId, TelegramHarness.Wait, m => m.Text!.Contains("📤 Executed", StringComparison.Ordinal));
        Assert.DoesNotContain(Gaps.AwaitingDecision, _h.Host.Services.GetRequiredService<GapFinder>().Find(Gaps.Stale).Select(g => g.Name));
    }

    [Fact]
    public async Task OldCardStillInTheChat_LosesItsButtonsAndPointsBelow_OneCardToTap()
    {
        const string id = "reply:scrolled-away";
        var old = await _h.SubmitCardedAsync(id, "A card far up a busy chat");
        var escalation = await StaleEscalationAsync(id, TimeSpan.FromMinutes(61));

        await PressAsync(escalation, "Resend card");
        var card = await NewCardAsync(id, escalation.MessageId);

        var superseded = Control.GetMessage(_h.ChatId, old.MessageId)!;
        Assert.Empty(superseded.Buttons);
        Assert.StartsWith("🔁 Sent again below at ", superseded.Text, StringComparison.Ordinal);
        Assert.Contains("A card far up a busy chat", superseded.Text, StringComparison.Ordinal);
        Assert.NotEmpty(Control.GetMessage(_h.ChatId, card.MessageId)!.Buttons);
        Assert.Throws<InvalidOperationException>(() => Control.PressButton(old.MessageId, TelegramHarness.ButtonData(old, "Approve")));
        Assert.Equal(card.MessageId, Store.Get(id)!.CardMessageId);
    }

    /// <summary>
    /// The approver taps Approve on the old card while its new card is on the way (the send held in the sandbox): the tap is
    /// handled after the resend, on a copy that no longer is the card on record. It still decides, once, bound to the text's
    /// hash; both copies show the decision, and the route runs once.
    /// </summary>
    [Fact]
    public async Task TapOnTheOldCardWhileTheCardIsResent_DecidesOnce_BothCopiesShowTheDecision()
    {
        const string id = "reply:tapped-meanwhile";
        var old = await _h.SubmitCardedAsync(id, "Decide me while my card moves");
        var escalation = await StaleEscalationAsync(id, TimeSpan.FromMinutes(61));
        var gate = new SandboxGate();
        Control.InjectFault("sendMessage", SandboxFault.Hold(gate));

        var resend = Control.PressButton(escalation.MessageId, TelegramHarness.ButtonData(escalation, "Resend card"), Control.ApproverId);
        await gate.Reached.WaitAsync(TelegramHarness.Wait);
        var tap = Control.PressButton(old.MessageId, TelegramHarness.ButtonData(old, "Approve"), Control.ApproverId);
        gate.Release();
        var resent = await Control.WaitForCallbackAnswerAsync(resend.QueryId, TelegramHarness.Wait);
        var tapped = await Control.WaitForCallbackAnswerAsync(tap.QueryId, TelegramHarness.Wait);
        var executed = await _h.WaitForStateAsync(id, DraftState.Executed);

        Assert.StartsWith("🔁 Sent the card of", resent.Text, StringComparison.Ordinal);
        Assert.Equal("✅ Approved", tapped.Text);
        Assert.Single(Store.Events(id), e => e.Type == DecisionHandler.DecidedEvent);
        Assert.Single(_route.Runs());
        var card = await NewCardAsync(id, escalation.MessageId);
        Assert.Equal(card.MessageId, executed.CardMessageId);
        await Control.WaitForEditAsync(_h.ChatId, card.MessageId, TelegramHarness.Wait, m => m.Buttons.Count == 0 && m.Text!.Contains("📤 Executed", StringComparison.Ordinal));
        var oldNow = Control.GetMessage(_h.ChatId, old.MessageId)!;
        Assert.Empty(oldNow.Buttons);
        Assert.StartsWith("✅ Approved by", oldNow.Text, StringComparison.Ordinal);
    }

    /// <summary>The draft expires (the reconciler's expiry) while its new card is on the way: the new card shows the expiry, not buttons.</summary>
    [Fact]
    public async Task DraftExpiresWhileItsCardIsOnTheWay_NewCardShowsTheExpiryInsteadOfButtons()
    {
        const string id = "brief:expires-meanwhile";
        await _h.SubmitAsync(id, "Short-lived", kind: "brief");
        var old = await _h.WaitForCardAsync(id);
        await _h.WaitForStateAsync(id, DraftState.Carded);
        var escalation = await StaleEscalationAsync(id, TimeSpan.FromMinutes(11));
        var gate = new SandboxGate();
        Control.InjectFault("sendMessage", SandboxFault.Hold(gate));

        var resend = Control.PressButton(escalation.MessageId, TelegramHarness.ButtonData(escalation, "Resend card"), Control.ApproverId);
        await gate.Reached.WaitAsync(TelegramHarness.Wait);
        _clock.Advance(TimeSpan.FromMinutes(20));
        Assert.Equal(1, (await _h.Host.Services.GetRequiredService<Reconciler>().RunOnceAsync(default)).Expired);
        gate.Release();
        var answer = await Control.WaitForCallbackAnswerAsync(resend.QueryId, TelegramHarness.Wait);

        Assert.Contains("again below, but meanwhile it no longer awaits a decision. It expired at", answer.Text, StringComparison.Ordinal);
        var draft = Store.Get(id)!;
        Assert.Equal(DraftState.Expired, draft.State);
        var card = await NewCardAsync(id, escalation.MessageId);
        Assert.Equal(card.MessageId, draft.CardMessageId);
        var shown = await Control.WaitForEditAsync(_h.ChatId, card.MessageId, TelegramHarness.Wait, m => m.Buttons.Count == 0);
        Assert.StartsWith("⌛ Expired at ", shown.Text, StringComparison.Ordinal);
        await Eventually.TrueAsync(() => Store.Get(id)!.CardShowsCurrentState, "the new card's expiry recorded as shown");
        Assert.Empty(Control.GetMessage(_h.ChatId, old.MessageId)!.Buttons);
    }

    /// <summary>
    /// The resend loses a race: while its card is on the way (the send held in the sandbox), another mover (here the host's
    /// own CardSender, as the pass of a restarted built-in sandbox moves a card) sends the card again and records that copy
    /// as the card on record, and in one row the draft is decided too. The resend's copy is then a spare: deleted, or its
    /// buttons taken off when Telegram will not delete it, or, failing both, left and said so. The answer says what happened,
    /// no resend is recorded, and the card on record stays the other mover's.
    /// </summary>
    [Theory]
    [InlineData(false, "none", ": the copy just sent was deleted. Decide on that card.")]
    [InlineData(true, "none", ": the copy just sent was deleted. It was rejected by Ada at ")]
    [InlineData(false, "delete", ": the copy just sent lost its buttons. Decide on that card.")]
    [InlineData(false, "delete and edit", "; the copy just sent could not be removed, a tap on it still counts once. Decide on that card.")]
    public async Task ResendLosesTheRaceToAnotherMove_ItsCopyRemovedAndTheAnswerSaysSo(bool decidedMeanwhile, string refused, string ending)
    {
        const string id = "reply:moved-meanwhile";
        var old = await _h.SubmitCardedAsync(id, "Two movers, one card on record");
        var escalation = await StaleEscalationAsync(id, TimeSpan.FromMinutes(61));
        var gate = new SandboxGate();
        Control.InjectFault("sendMessage", SandboxFault.Hold(gate));
        if (refused.Contains("delete", StringComparison.Ordinal))
        {
            Control.InjectFault("deleteMessage", SandboxFault.Error(400, "Bad Request: message can't be deleted"));
        }
        if (refused.Contains("edit", StringComparison.Ordinal))
        {
            Control.InjectFault("editMessageReplyMarkup", SandboxFault.Error(400, "Bad Request: message can't be edited"));
        }

        var resend = Control.PressButton(escalation.MessageId, TelegramHarness.ButtonData(escalation, "Resend card"), Control.ApproverId);
        await gate.Reached.WaitAsync(TelegramHarness.Wait);
        var sender = _h.Host.Services.GetRequiredService<CardSender>();
        var draft = Store.Get(id)!;
        var other = await sender.SendAsync(draft, default);
        Assert.True(await _h.Host.Services.GetRequiredService<CardRecords>().RecordMovedAsync(draft, old.ChatId, old.MessageId, other, CardSender.SandboxRestartedReason));
        if (decidedMeanwhile)
        {
            Assert.True((await Store.TransitionAsync(new Transition(id, [DraftState.Carded], DraftState.Rejected, DecisionHandler.DecidedEvent, "telegram:1001")
            {
                Set = new Dictionary<string, object?>
                {
                    ["decision"] = "rejected", ["decided_by"] = 1001L, ["decided_by_name"] = "Ada", ["decided_at"] = _clock.GetUtcNow(), ["decision_sha256"] = draft.Sha256,
                },
            })).Applied);
        }
        gate.Release();
        var answer = await Control.WaitForCallbackAnswerAsync(resend.QueryId, TelegramHarness.Wait);

        Assert.StartsWith($"⚠️ Meanwhile another card of {id} became its card (message {other.MessageId})", answer.Text, StringComparison.Ordinal);
        Assert.Contains(ending, answer.Text, StringComparison.Ordinal);
        Assert.True(answer.ShowAlert);
        var now = Store.Get(id)!;
        Assert.Equal(other.MessageId, now.CardMessageId);
        Assert.Equal(CardSender.SandboxRestartedReason, (string?)JsonNode.Parse(Assert.Single(Moves(id)).Details!)!["reason"]);
        var copies = Control.GetMessages(_h.ChatId).Where(m => m.MessageId > other.MessageId && m.Text is { } t && t.Contains("ID: " + id, StringComparison.Ordinal)).ToList();
        switch (refused)
        {
            case "none":
                Assert.Empty(copies);
                break;
            case "delete":
                Assert.Empty(Assert.Single(copies).Buttons);
                break;
            default:
                Assert.NotEmpty(Assert.Single(copies).Buttons);
                break;
        }
    }

    [Fact]
    public async Task ResendPressedAfterTheDraftWasDecided_AnsweredSo_NothingSent()
    {
        const string id = "reply:decided-since";
        var old = await _h.SubmitCardedAsync(id, "Decided before the resend");
        var escalation = await StaleEscalationAsync(id, TimeSpan.FromMinutes(61));
        await PressAsync(old, "Reject");

        var (_, answer) = await PressAsync(escalation, "Resend card");

        Assert.StartsWith($"Nothing sent: {id} no longer awaits a decision. It was rejected by ", answer.Text, StringComparison.Ordinal);
        Assert.Equal(1, Cards(id));
        Assert.Empty(Moves(id));
        Assert.Equal((DraftState.Rejected, (long?)old.MessageId), (Store.Get(id)!.State, Store.Get(id)!.CardMessageId));
    }

    [Fact]
    public async Task ResendPressDeliveredAgain_SendsNoSecondCard()
    {
        const string id = "reply:redelivered";
        await _h.SubmitCardedAsync(id, "Once is enough");
        var escalation = await StaleEscalationAsync(id, TimeSpan.FromMinutes(61));
        var data = TelegramHarness.ButtonData(escalation, "Resend card");
        var (press, _) = await PressAsync(escalation, "Resend card");
        var card = await NewCardAsync(id, escalation.MessageId);
        await Control.WaitForUpdateConfirmedAsync(press.UpdateId, TelegramHarness.Wait);

        var again = _h.RedeliverPress(press, escalation.MessageId, data, Control.ApproverId);
        await Control.WaitForUpdateConfirmedAsync(again, TelegramHarness.Wait);

        Assert.Single(Moves(id));
        Assert.Equal(2, Cards(id));
        Assert.Equal(card.MessageId, Store.Get(id)!.CardMessageId);
    }

    /// <summary>
    /// Telegram takes the card sent again but its answer cannot be read (a proxy mangling it): the card is most likely in the
    /// chat, so it is recorded as sent unconfirmed, as the outbox records its own (<c>card_unconfirmed</c>: no message on record,
    /// the chat it went to, who asked), and <c>/orphans</c> lists it with Resend card. The same press delivered again sends no
    /// second copy, and a tap on the copy decides and makes it the card on record. Before the fix nothing was recorded: the
    /// old card stayed the card on record, and the press delivered again sent another copy.
    /// </summary>
    [Fact]
    public async Task CardSendAnsweredUnreadable_RecordedUnconfirmed_ThePressDeliveredAgainSendsNoCopy_ATapOnTheCopyDecides()
    {
        const string id = "reply:resend-unreadable";
        var old = await _h.SubmitCardedAsync(id, "Answered unreadably");
        var escalation = await StaleEscalationAsync(id, TimeSpan.FromMinutes(61));
        var data = TelegramHarness.ButtonData(escalation, "Resend card");
        Control.InjectFault("sendMessage", SandboxFault.ResponseLost(ResponseLossMode.Unreadable));

        var (press, answer) = await PressAsync(escalation, "Resend card");
        var copy = await NewCardAsync(id, escalation.MessageId);
        await Control.WaitForUpdateConfirmedAsync(press.UpdateId, TelegramHarness.Wait);

        Assert.StartsWith($"⚠️ The card of {id} was probably sent again below", answer.Text, StringComparison.Ordinal);
        Assert.True(answer.ShowAlert);
        var draft = Store.Get(id)!;
        Assert.Equal((DraftState.Carded, _h.ChatId, (long?)null), (draft.State, draft.CardChatId!.Value, draft.CardMessageId));
        Assert.Contains($"most likely in chat {_h.ChatId.ToString(CultureInfo.InvariantCulture)}", draft.CardError, StringComparison.Ordinal);
        Assert.EndsWith("A tap on it decides once; Resend card (/card) sends one that is recorded", draft.CardError, StringComparison.Ordinal);
        var unconfirmed = Assert.Single(Store.Events(id), e => e.Type == CardRecords.UnconfirmedEvent);
        Assert.Equal("telegram:" + Control.ApproverId.ToString(CultureInfo.InvariantCulture), unconfirmed.Actor);
        var details = JsonNode.Parse(unconfirmed.Details!)!;
        Assert.Equal((CardSender.ResendRequestedReason, (long?)old.MessageId, (long?)Control.ApproverId, "button"),
            ((string?)details["reason"], (long?)details["from_message_id"], (long?)details["requested_by"], (string?)details["via"]));
        Assert.Contains(_h.Host.Services.GetRequiredService<GapFinder>().Find(Gaps.Orphans), g => g.Name == Gaps.CardUnconfirmed && g.DraftId == id);

        var again = _h.RedeliverPress(press, escalation.MessageId, data, Control.ApproverId);
        await Control.WaitForUpdateConfirmedAsync(again, TelegramHarness.Wait);

        Assert.Equal(2, Cards(id));
        Assert.Empty(Moves(id));
        var (_, approved) = await PressAsync(copy, "Approve");
        Assert.Equal("✅ Approved", approved.Text);
        // The answer comes after the decision's commit; the approval wakes the executor, which may have moved the draft on.
        var decided = Store.Get(id)!;
        Assert.Equal(("approved", copy.MessageId, (string?)null), (decided.Decision, decided.CardMessageId!.Value, decided.CardError));
    }

    /// <summary>
    /// The card sent again on <c>/card</c> is answered unreadably, then the approver asks again and that card is recorded: the
    /// original card lost its buttons at the first request (pointing below), so only the copies sent again can be tapped.
    /// Before the fix it kept them for good: recorded unconfirmed, the draft had no message on record, so the second resend
    /// had no old card to take them off.
    /// </summary>
    [Fact]
    public async Task CardSendAnsweredUnreadable_TheOriginalCardLosesItsButtons_ALaterResendLeavesItSo()
    {
        const string id = "reply:resend-unreadable-original";
        var old = await _h.SubmitCardedAsync(id, "My first card must not stay tappable");
        Control.InjectFault("sendMessage", SandboxFault.ResponseLost(ResponseLossMode.Unreadable));

        var first = Control.SendUserMessage("/card " + id, Control.ApproverId, _h.ChatId);
        await NewCardAsync(id, first.MessageId);
        await Control.WaitForUpdateConfirmedAsync(first.UpdateId, TelegramHarness.Wait);

        Assert.Null(Store.Get(id)!.CardMessageId);
        var original = Control.GetMessage(_h.ChatId, old.MessageId)!;
        Assert.Empty(original.Buttons);
        Assert.StartsWith("🔁 Sent again below at ", original.Text, StringComparison.Ordinal);

        var second = Control.SendUserMessage("/card " + id, Control.ApproverId, _h.ChatId);
        var card = await NewCardAsync(id, second.MessageId);
        await Control.WaitForUpdateConfirmedAsync(second.UpdateId, TelegramHarness.Wait);

        Assert.Equal(card.MessageId, Store.Get(id)!.CardMessageId);
        Assert.Empty(Control.GetMessage(_h.ChatId, old.MessageId)!.Buttons);
        Assert.Throws<InvalidOperationException>(() => Control.PressButton(old.MessageId, TelegramHarness.ButtonData(old, "Approve")));
    }

    /// <summary>
    /// A long draft's file, sent before its card, gets an answer that cannot be read: the file most likely went out, the card
    /// with its buttons never did. The answer says the card was not sent, and nothing is recorded: the old card stays the card
    /// on record, nothing is taken for sent unconfirmed. Before the fix the answer said the card was probably sent again.
    /// </summary>
    [Fact]
    public async Task LongDraftsFileAnsweredUnreadable_AnsweredThatTheCardWasNotSent_TheOldCardStaysOnRecord()
    {
        const string id = "long:resend-file-unreadable";
        await _h.SubmitAsync(id, new string('x', 9_000), kind: "long");
        await _h.WaitForCardAsync(id);
        var old = await _h.WaitForStateAsync(id, DraftState.Carded);
        Control.InjectFault("sendDocument", SandboxFault.ResponseLost(ResponseLossMode.Unreadable));

        var command = Control.SendUserMessage("/card " + id, Control.ApproverId, _h.ChatId);
        var reply = await Control.WaitForMessageAsync(
            m => m.MessageId > command.MessageId && m.Document is null && m.Text is { } t && !t.Contains("ID: ", StringComparison.Ordinal), TelegramHarness.Wait);

        Assert.StartsWith($"⚠️ Could not send the card of {id} again", reply.Text, StringComparison.Ordinal);
        Assert.Contains("the card itself was not sent", reply.Text, StringComparison.Ordinal);
        var draft = Store.Get(id)!;
        Assert.Equal((old.CardChatId, old.CardMessageId, (string?)null), (draft.CardChatId, draft.CardMessageId, draft.CardError));
        Assert.DoesNotContain(Store.Events(id), e => e.Type is CardRecords.UnconfirmedEvent or CardRecords.MovedEvent);
    }

    [Fact]
    public async Task StrangerPressesResend_RefusedAndRecorded_NothingSent()
    {
        const string id = "reply:stranger";
        await _h.SubmitCardedAsync(id, "Not yours");
        var escalation = await StaleEscalationAsync(id, TimeSpan.FromMinutes(61));

        var (_, answer) = await PressAsync(escalation, "Resend card", Control.StrangerId);

        Assert.Equal("⛔ Not authorized.", answer.Text);
        Assert.True(answer.ShowAlert);
        var security = Assert.Single(Store.EventsOfType(CallbackRouter.SecurityEvent));
        Assert.Contains("\"reason\":\"not_approver\"", security.Details, StringComparison.Ordinal);
        Assert.Empty(Moves(id));
        Assert.Equal(1, Cards(id));
    }

    [Theory]
    [InlineData("hash_mismatch")]
    [InlineData("unknown_draft")]
    public async Task ForgedResendButton_RecordedAsAnOrphanCallback_NothingSent(string reason)
    {
        const string id = "reply:forged";
        await _h.SubmitCardedAsync(id, "Guarded by its hash");
        var escalation = await StaleEscalationAsync(id, TimeSpan.FromMinutes(61));
        var seq = Store.Get(id)!.Seq;
        var data = reason == "hash_mismatch" ? $"ec:{seq}:0123456789abcdef" : "ec:999999:0123456789abcdef";

        var press = Control.PressButton(escalation.MessageId, data, Control.ApproverId, requireButton: false);
        var answer = await Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);

        Assert.Equal(OrphanCallbacks.Answer, answer.Text);
        Assert.Contains($"\"reason\":\"{reason}\"", Assert.Single(Store.EventsOfType(OrphanCallbacks.EventType)).Details, StringComparison.Ordinal);
        Assert.Empty(Moves(id));
        Assert.Equal(1, Cards(id));
    }
}
