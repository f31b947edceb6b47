using System.Globalization;
using System.Text.Json.Nodes;
using ApprovalBot.Drafts;
using ApprovalBot.Sandbox;
using ApprovalBot.Telegram.Cards;
using ApprovalBot.Telegram.Updates;

namespace ApprovalBot.Tests.Telegram;

/// <summary>/card &lt;id&gt;: a fresh card for a draft awaiting a decision at any time, not only once its escalation came.</summary>
public sealed class CardCommandTests
{
    private static async Task<(UserMessage Sent, SentMessage Reply)> CommandAsync(TelegramHarness h, string text, long? from = null)
    {
        var sent = h.Control.SendUserMessage(text, from ?? h.Control.ApproverId, h.ChatId);
        var reply = await h.Control.WaitForMessageAsync(
            m => m.MessageId > sent.MessageId && m.Document is null && m.Text is { } t && !t.Contains("ID: ", StringComparison.Ordinal), TelegramHarness.Wait);
        return (sent, reply);
    }

    private static IReadOnlyList<LedgerEvent> Moves(TelegramHarness h, string id) => [.. h.Host.Store.Events(id).Where(e => e.Type == CardRecords.MovedEvent)];

    private static int Cards(TelegramHarness h, string id) =>
        h.Control.GetMessages(h.ChatId).Count(m => m.Text is { } t && t.Contains("ID: " + id, StringComparison.Ordinal));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task CardOfADraftAwaitingADecision_SentAgainAboveTheReply_OldCardLosesItsButtons_NewOneDecides(bool bySeq)
    {
        await using var h = await TelegramHarness.StartAsync();
        const string id = "reply:again";
        var old = await h.SubmitCardedAsync(id, "Long scrolled away");
        var key = bySeq ? "#" + h.Host.Store.Get(id)!.Seq.ToString(CultureInfo.InvariantCulture) : id;

        var (sent, reply) = await CommandAsync(h, "/card " + key);
        var card = await h.Control.WaitForMessageAsync(m => m.MessageId > sent.MessageId && m.Text!.Contains("ID: " + id, StringComparison.Ordinal), TelegramHarness.Wait);

        Assert.Equal($"🔁 Sent the card of {id} again above: decide there.", reply.Text);
        Assert.True(card.MessageId < reply.MessageId);
        Assert.NotEmpty(card.Buttons);
        Assert.Equal(card.MessageId, h.Host.Store.Get(id)!.CardMessageId);
        var superseded = h.Control.GetMessage(h.ChatId, old.MessageId)!;
        Assert.Empty(superseded.Buttons);
        Assert.StartsWith("🔁 Sent again below at ", superseded.Text, StringComparison.Ordinal);
        var moved = Assert.Single(Moves(h, id));
        var details = JsonNode.Parse(moved.Details!)!;
        Assert.Equal(("command", (long?)sent.MessageId, (long?)old.MessageId), ((string?)details["via"], (long?)details["request_message_id"], (long?)details["from_message_id"]));

        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        Assert.Equal("✅ Approved", (await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait)).Text);
        await h.WaitForStateAsync(id, DraftState.Approved);
        await h.Control.WaitForEditAsync(h.ChatId, card.MessageId, TelegramHarness.Wait, m => m.Text!.StartsWith("✅ Approved by", StringComparison.Ordinal));
        Assert.StartsWith("🔁 Sent again below at ", h.Control.GetMessage(h.ChatId, old.MessageId)!.Text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/card", "Usage: /card <id> (or /card #seq)")]
    [InlineData("/card reply:nope", "No draft reply:nope in the store. /pending lists the drafts awaiting a decision.")]
    [InlineData("/card #424242", "No draft #424242 in the store. /pending lists the drafts awaiting a decision.")]
    public async Task MissingOrUnknownId_AnsweredClearly_NothingSent(string text, string expected)
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.SubmitCardedAsync("reply:there", "A draft that is there");

        var (_, reply) = await CommandAsync(h, text);

        Assert.StartsWith(expected, reply.Text, StringComparison.Ordinal);
        Assert.Equal(1, Cards(h, "reply:there"));
        Assert.Empty(Moves(h, "reply:there"));
    }

    [Fact]
    public async Task DecidedDraft_AnsweredItNoLongerAwaitsADecision_NothingSent()
    {
        await using var h = await TelegramHarness.StartAsync();
        const string id = "reply:done";
        var card = await h.SubmitCardedAsync(id, "Already decided");
        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);

        var (_, reply) = await CommandAsync(h, "/card " + id);

        Assert.StartsWith($"Nothing sent: {id} no longer awaits a decision. It was approved by ", reply.Text, StringComparison.Ordinal);
        Assert.Equal(1, Cards(h, id));
        Assert.Empty(Moves(h, id));
    }

    [Fact]
    public async Task Stranger_NotAuthorizedAndRecorded_NothingSent()
    {
        await using var h = await TelegramHarness.StartAsync();
        const string id = "reply:guarded";
        await h.SubmitCardedAsync(id, "Not for strangers");

        var sent = h.Control.SendUserMessage("/card " + id, h.Control.StrangerId);
        var reply = await h.Control.WaitForMessageAsync(m => m.ChatId == h.Control.StrangerId, TelegramHarness.Wait);
        await h.Control.WaitForUpdateConfirmedAsync(sent.UpdateId, TelegramHarness.Wait);

        Assert.StartsWith("⛔ Not authorized.", reply.Text, StringComparison.Ordinal);
        var security = Assert.Single(h.Host.Store.EventsOfType(CallbackRouter.SecurityEvent));
        Assert.Contains("\"reason\":\"command_not_authorized\"", security.Details, StringComparison.Ordinal);
        Assert.Contains("\"command\":\"card\"", security.Details, StringComparison.Ordinal);
        Assert.Equal(1, Cards(h, id));
        Assert.Empty(Moves(h, id));
    }

    [Fact]
    public async Task CommandDeliveredAgain_SendsNoSecondCard()
    {
        await using var h = await TelegramHarness.StartAsync();
        const string id = "reply:once";
        await h.SubmitCardedAsync(id, "One card per request");
        var (sent, _) = await CommandAsync(h, "/card " + id);
        await h.Control.WaitForUpdateConfirmedAsync(sent.UpdateId, TelegramHarness.Wait);

        var again = h.RedeliverMessage(sent, "/card " + id, h.Control.ApproverId);
        var reply = await h.Control.WaitForMessageAsync(
            m => m.Text?.StartsWith($"🔁 The card of {id} was sent again already", StringComparison.Ordinal) == true, TelegramHarness.Wait);
        await h.Control.WaitForUpdateConfirmedAsync(again, TelegramHarness.Wait);

        Assert.Contains($"(message {h.Host.Store.Get(id)!.CardMessageId})", reply.Text, StringComparison.Ordinal);
        Assert.Single(Moves(h, id));
        Assert.Equal(2, Cards(h, id));
    }

    [Fact]
    public async Task PendingDraftWhoseCardWasGivenUp_QueuedAgainAndCarded()
    {
        await using var h = await TelegramHarness.StartAsync();
        const string id = "reply:given-up";
        // Refused for the card itself: the outbox gives it up at once.
        h.Control.InjectFault("sendMessage", SandboxFault.Error(400, "Bad Request: can't parse entities: unexpected end tag"));
        await h.SubmitAsync(id, "Card refused once");
        await Eventually.TrueAsync(() => h.Host.Store.Get(id) is { CardError: not null, CardNextAt: null }, "the outbox to give up");

        var (_, reply) = await CommandAsync(h, "/card " + id);
        var carded = await h.WaitForStateAsync(id, DraftState.Carded);

        Assert.StartsWith($"🔁 The card of {id} had been given up (", reply.Text, StringComparison.Ordinal);
        Assert.EndsWith("); it is queued again.", reply.Text, StringComparison.Ordinal);
        Assert.NotNull(carded.CardMessageId);
        Assert.Contains(h.Host.Store.Events(id), e => e.Type == "card_retry_requested" && e.Actor == "telegram:" + h.Control.ApproverId.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// Telegram takes the card sent again but its answer cannot be read: the card is most likely in the chat, its id unknown,
    /// so it is recorded as sent unconfirmed (no message on record, as the outbox records its own) and not sent again unasked,
    /// not even by the same command delivered again; the reply says so, and that a tap on it still counts once. The old card
    /// loses its buttons (sent again below), as for a card that is recorded; a tap on the copy decides and makes it the card on record.
    /// </summary>
    [Fact]
    public async Task CardSentAgainAnsweredUnreadable_ReplySaysItWasProbablySent_RecordedUnconfirmedNotSentAgain()
    {
        await using var h = await TelegramHarness.StartAsync();
        const string id = "reply:again-unreadable";
        var old = await h.SubmitCardedAsync(id, "Long scrolled away");
        h.Control.InjectFault("sendMessage", SandboxFault.ResponseLost(ResponseLossMode.Unreadable));

        var (sent, reply) = await CommandAsync(h, "/card " + id);

        Assert.Equal($"⚠️ The card of {id} was probably sent again above, but Telegram's answer could not be read: a tap on it still counts once. " +
            "No new card there? Ask again.", reply.Text);
        Assert.Equal(2, Cards(h, id));
        Assert.Empty(Moves(h, id));
        var draft = h.Host.Store.Get(id)!;
        Assert.Equal((DraftState.Carded, (long?)h.ChatId, (long?)null), (draft.State, draft.CardChatId, draft.CardMessageId));
        var unconfirmed = JsonNode.Parse(Assert.Single(h.Host.Store.Events(id), e => e.Type == CardRecords.UnconfirmedEvent).Details!)!;
        Assert.Equal(("command", (long?)sent.MessageId, (long?)old.MessageId),
            ((string?)unconfirmed["via"], (long?)unconfirmed["request_message_id"], (long?)unconfirmed["from_message_id"]));
        Assert.Empty(h.Control.GetMessage(h.ChatId, old.MessageId)!.Buttons);

        var again = h.RedeliverMessage(sent, "/card " + id, h.Control.ApproverId);
        await h.Control.WaitForUpdateConfirmedAsync(again, TelegramHarness.Wait);
        Assert.Equal(2, Cards(h, id));

        var copy = h.Control.GetMessages(h.ChatId).Single(m => m.MessageId > sent.MessageId && m.Text!.Contains("ID: " + id, StringComparison.Ordinal));
        var press = h.Control.PressButton(copy.MessageId, TelegramHarness.ButtonData(copy, "Approve"));
        Assert.Equal("✅ Approved", (await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait)).Text);
        Assert.Equal((long?)copy.MessageId, (await h.WaitForStateAsync(id, DraftState.Approved)).CardMessageId);
    }
}
