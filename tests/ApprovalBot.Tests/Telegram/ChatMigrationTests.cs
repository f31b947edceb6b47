using System.Globalization;
using System.Text.Json.Nodes;
using ApprovalBot.Drafts;
using ApprovalBot.Sandbox;
using ApprovalBot.Telegram;
using ApprovalBot.Telegram.Cards;
using ApprovalBot.Telegram.Updates;
using ApprovalBot.Tests.Execution;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ApprovalBot.Tests.Telegram;

/// <summary>The approvers' group upgraded to a supergroup: learnt from the service message, and cards left behind in the old group.</summary>
public sealed class ChatMigrationTests
{
    private const long Group = -1001;
    private const long Supergroup = -100_123;

    private static Task<TelegramHarness> StartInGroupAsync() =>
        TelegramHarness.StartAsync([$"ApprovalBot:Telegram:ChatId={Group.ToString(CultureInfo.InvariantCulture)}"]);

    /// <summary>Upgrades the group to the supergroup, and waits until the bot confirmed the service messages.</summary>
    private static async Task MigrateAsync(TelegramHarness h)
    {
        var service = h.Control.MigrateChat(Group, Supergroup);
        await h.Control.WaitForUpdateConfirmedAsync(service[^1], TelegramHarness.Wait);
    }

    [Fact]
    public async Task ServiceMessage_GroupUpgraded_FollowedAtOnceAndTapInSupergroupAccepted()
    {
        await using var h = await StartInGroupAsync();
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);

        await MigrateAsync(h);

        Assert.Equal(Supergroup, h.Host.Services.GetRequiredService<TelegramChat>().ChatId);
        Assert.Equal("-100123", h.Host.Store.GetSetting("telegram.chat_migrated.-1001"));
        await h.SubmitAsync("reply:after-upgrade", "text");
        var card = await h.WaitForCardAsync("reply:after-upgrade");
        Assert.Equal(Supergroup, card.ChatId);
        Assert.DoesNotContain(h.Control.GetCalls(), c => c.StatusCode == 400);

        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"), chatId: Supergroup);
        var answer = await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        var command = h.Control.SendUserMessage("/pending", chatId: Supergroup);
        var reply = await h.Control.WaitForMessageAsync(m => m.ChatId == Supergroup && m.Text?.StartsWith("Nothing awaits", StringComparison.Ordinal) == true, TelegramHarness.Wait);
        await h.Control.WaitForUpdateConfirmedAsync(command.UpdateId, TelegramHarness.Wait);

        Assert.Contains("Approved", answer.Text);
        Assert.Equal(DraftState.Approved, h.Host.Store.Get("reply:after-upgrade")!.State);
        Assert.Empty(h.Host.Store.EventsOfType(CallbackRouter.SecurityEvent));
    }

    [Theory]
    [InlineData("migrate_to_chat_id")]
    [InlineData("migrate_from_chat_id")]
    public async Task ServiceMessage_EitherOfTheTwo_Followed(string field)
    {
        await using var h = await StartInGroupAsync();
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        h.Control.MigrateChat(Group, Supergroup, notify: false);
        var (chat, type, value) = field == "migrate_to_chat_id" ? (Group, "group", Supergroup) : (Supergroup, "supergroup", Group);

        var update = h.Control.EnqueueRawUpdate($$$"""
            {"update_id":0,"message":{"message_id":7,"date":0,"from":{"id":{{{h.Control.ApproverId}}},"is_bot":false,"first_name":"Alice"},
             "chat":{"id":{{{chat}}},"type":"{{{type}}}","title":"g"},"{{{field}}}":{{{value}}}}}
            """);
        await h.Control.WaitForUpdateConfirmedAsync(update, TelegramHarness.Wait);

        Assert.Equal(Supergroup, h.Host.Services.GetRequiredService<TelegramChat>().ChatId);
        Assert.Equal("-100123", h.Host.Store.GetSetting("telegram.chat_migrated.-1001"));
    }

    /// <summary>
    /// An approver's command sent in the group just before its upgrade, fetched in one batch with the service messages (so
    /// the chat has moved on by the time it is handled), counts as sent in the approvers' chat, as a tap on a card left there
    /// does; it is answered in the supergroup, the old group taking no messages. Before, it was refused as a security event.
    /// </summary>
    [Fact]
    public async Task Command_InTheOldGroupInTheBatchOfTheUpgrade_RunAndAnsweredInTheSupergroup()
    {
        await using var h = await StartInGroupAsync();
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        IReadOnlyList<long> service = [];

        await h.RestartHostAsync(whileStopped: () =>
        {
            h.Control.SendUserMessage("/pending", chatId: Group);
            service = h.Control.MigrateChat(Group, Supergroup);
        });
        var reply = await h.Control.WaitForMessageAsync(m => m.Text?.StartsWith("Nothing awaits", StringComparison.Ordinal) == true, TelegramHarness.Wait);
        await h.Control.WaitForUpdateConfirmedAsync(service[^1], TelegramHarness.Wait);

        Assert.Equal(Supergroup, reply.ChatId);
        Assert.Empty(h.Host.Store.EventsOfType(CallbackRouter.SecurityEvent));
    }

    /// <summary>
    /// /start from the old group in the same batch is answered for the approvers' chat it is answered in: its id is the
    /// supergroup's, and the approver is told the commands work. Before, it named the old group's id, and told the approver
    /// that commands work only in the supergroup (where the answer stood) and to set ChatId to the old group to get cards.
    /// </summary>
    [Fact]
    public async Task Start_InTheOldGroupInTheBatchOfTheUpgrade_AnsweredForTheSupergroup()
    {
        await using var h = await StartInGroupAsync();
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);

        await h.RestartHostAsync(whileStopped: () =>
        {
            h.Control.SendUserMessage("/start", chatId: Group);
            h.Control.MigrateChat(Group, Supergroup);
        });
        var reply = await h.Control.WaitForMessageAsync(m => m.Text?.StartsWith("👋 ApprovalBot", StringComparison.Ordinal) == true, TelegramHarness.Wait);

        Assert.Equal(Supergroup, reply.ChatId);
        Assert.Contains("Chat id: " + Supergroup.ToString(System.Globalization.CultureInfo.InvariantCulture), reply.Text, StringComparison.Ordinal);
        Assert.Contains("You are an approver. /help lists the commands.", reply.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ServiceMessage_AnotherGroupUpgraded_ChatUnchanged()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);

        await MigrateAsync(h);

        Assert.Equal(h.ChatId, h.Host.Services.GetRequiredService<TelegramChat>().ChatId);
        Assert.Null(h.Host.Store.GetSetting("telegram.chat_migrated.-1001"));
    }

    [Fact]
    public async Task Card_LeftInTheOldGroup_OutcomeShownOnTheCardSentAgainInTheSupergroup()
    {
        const string id = "reply:left-behind";
        await using var h = await StartInGroupAsync();
        await h.SubmitAsync(id, "text");
        var card = await h.WaitForCardAsync(id);
        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"), chatId: Group);
        await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        await h.Control.WaitForEditAsync(Group, card.MessageId, TelegramHarness.Wait);
        await MigrateAsync(h);

        await h.Host.Store.TransitionAsync(new Transition(id, [DraftState.Approved], DraftState.Executing, "exec_started", "test"));
        await h.Host.Store.TransitionAsync(new Transition(id, [DraftState.Executing], DraftState.Failed, "exec_failed", "test")
        {
            Set = new Dictionary<string, object?> { ["exec_error"] = "HTTP 500 from sink", ["exec_attempts"] = 1 },
        });

        // The card may go out while the draft is still executing (the first change's edit moves it) and then be edited.
        var moved = await h.Control.WaitForMessageAsync(
            m => m.ChatId == Supergroup && m.Text?.Contains(id, StringComparison.Ordinal) == true && m.Text.Contains("Execution failed", StringComparison.Ordinal),
            TelegramHarness.Wait);
        Assert.StartsWith("✅ Approved by " + h.Sandbox.Settings.ApproverName + " · ⚠️ Execution failed: HTTP 500 from sink", moved.Text, StringComparison.Ordinal);
        Assert.Empty(moved.Buttons);
        await Eventually.TrueAsync(() => h.Host.Store.Get(id)!.CardChatId == Supergroup, "the card recorded in the supergroup");
        var draft = h.Host.Store.Get(id)!;
        Assert.Equal(moved.MessageId, draft.CardMessageId);
        Assert.Contains(h.Host.Store.Events(id), e => e.Type == CardRecords.MovedEvent);

        // Later edits go to the new card, not to the old group.
        await h.Host.Store.TransitionAsync(new Transition(id, [DraftState.Failed], DraftState.Approved, "retry_requested", "test"));
        await h.Control.WaitForEditAsync(Supergroup, moved.MessageId, TelegramHarness.Wait, m => m.Text!.Contains("Waiting for another execution attempt", StringComparison.Ordinal));
        Assert.Single(h.Control.GetMessages(Supergroup), m => m.Text?.Contains(id, StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task Edit_OfTheOldCardAfterItMoved_ShowsTheLatestStateOnTheCardInTheSupergroup()
    {
        const string id = "reply:moved-twice";
        await using var h = await StartInGroupAsync();
        var card = await h.SubmitCardedAsync(id, "text");
        await MigrateAsync(h);
        var sender = h.Host.Services.GetRequiredService<CardSender>();
        await sender.ShowLatestAsync(id, Group, card.MessageId, CancellationToken.None);
        var moved = h.Host.Store.Get(id)!;
        Assert.Equal(Supergroup, moved.CardChatId);

        // An edit that was still aimed at the old card (queued before the move) lands on the moved one, and is recorded.
        await h.Host.Store.TransitionAsync(new Transition(id, [DraftState.Carded], DraftState.Cancelled, "cancelled", "test"));
        await sender.ShowLatestAsync(id, Group, card.MessageId, CancellationToken.None);

        var shown = h.Control.GetMessage(Supergroup, (int)moved.CardMessageId!.Value)!;
        Assert.Empty(shown.Buttons);
        await Eventually.TrueAsync(() => h.Host.Store.Get(id)!.CardShowsCurrentState, "the moved card recorded as showing the latest state");
        Assert.Single(h.Control.GetMessages(Supergroup), m => m.Text?.Contains(id, StringComparison.Ordinal) == true);
    }

    /// <summary>
    /// ChatId moved from the group to another chat, and the group, now a former chat, upgraded later: a card left there is
    /// not posted, text and all, into that supergroup (it is not the approvers' chat either), but left as it is, like any
    /// card in a former chat. Before, its next edit sent the card into the supergroup and recorded it there.
    /// </summary>
    [Fact]
    public async Task Card_InAFormerChatThatUpgradedLater_NotPostedIntoItsSupergroupLeftAsItIs()
    {
        const string id = "reply:former-group";
        await using var h = await StartInGroupAsync();
        var card = await h.SubmitCardedAsync(id, "text the new chat's members never saw");
        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"), chatId: Group);
        await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        await Eventually.TrueAsync(() => h.Host.Store.Get(id)!.CardShowsCurrentState, "the approval shown on the card");
        await h.RestartHostAsync(settings: [$"ApprovalBot:Telegram:ChatId={h.ChatId.ToString(CultureInfo.InvariantCulture)}"]);
        h.Control.MigrateChat(Group, Supergroup);

        await DraftFixtures.MoveAsync(h.Host.Store, id, DraftState.Approved, DraftState.Executing);
        await DraftFixtures.MoveAsync(h.Host.Store, id, DraftState.Executing, DraftState.Executed, new Dictionary<string, object?> { ["exec_result"] = "posted" });

        await Eventually.TrueAsync(() => h.Host.Store.Events(id).Any(e => e.Type == CardSender.EditRefusedEvent), "card_edit_refused in the ledger");
        var refused = JsonNode.Parse(h.Host.Store.Events(id).Single(e => e.Type == CardSender.EditRefusedEvent).Details!)!;
        Assert.Equal((Supergroup, true), ((long)refused["migrate_to_chat_id"]!, (bool?)refused["former_chat"]));
        Assert.DoesNotContain(h.Control.GetMessages(Supergroup), m => m.Text?.Contains(id, StringComparison.Ordinal) == true);
        var draft = h.Host.Store.Get(id)!;
        Assert.Equal((Group, card.MessageId), (draft.CardChatId, draft.CardMessageId));
        Assert.DoesNotContain(h.Host.Store.Events(id), e => e.Type == CardRecords.MovedEvent);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Tap_OnCardLeftInTheOldGroup_DecidesAndTheCardIsSentAgainInTheSupergroup(bool chatIdUpdatedToTheSupergroup)
    {
        var id = chatIdUpdatedToTheSupergroup ? "reply:tap-after-chat-id-update" : "reply:tap-old-group";
        await using var h = await StartInGroupAsync();
        var card = await h.SubmitCardedAsync(id, "text");
        await MigrateAsync(h);
        if (chatIdUpdatedToTheSupergroup)
        {
            // What the README advises: ChatId updated to the supergroup's id, and a restart.
            await h.RestartHostAsync(settings: [$"ApprovalBot:Telegram:ChatId={Supergroup.ToString(CultureInfo.InvariantCulture)}"]);
            Assert.Equal(Supergroup, h.Host.Services.GetRequiredService<TelegramChat>().ChatId);
        }

        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"), chatId: Group);
        var answer = await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);

        Assert.Contains("Approved", answer.Text);
        Assert.Equal(DraftState.Approved, h.Host.Store.Get(id)!.State);
        var moved = await h.Control.WaitForMessageAsync(m => m.ChatId == Supergroup && m.Text?.Contains(id, StringComparison.Ordinal) == true, TelegramHarness.Wait);
        Assert.StartsWith("✅ Approved by", moved.Text, StringComparison.Ordinal);
        Assert.Empty(moved.Buttons);
        Assert.Empty(h.Host.Store.EventsOfType(CallbackRouter.SecurityEvent));
    }

    /// <summary>
    /// A card left in the old group is sent into the supergroup when its draft changes, and Telegram takes it but its answer
    /// cannot be read: the card is most likely there, so it is recorded as sent unconfirmed (no message on record, the
    /// supergroup, reason chat_migrated), as the outbox records a card of its own, and not sent again, neither by a retry nor by
    /// a later edit still aimed at the old card; /status says so. Before the fix the failure went back to the follow-ups,
    /// whose every retry (and every later look at the cards behind) posted another copy.
    /// </summary>
    [Fact]
    public async Task Card_SentIntoTheSupergroupAnsweredUnreadable_RecordedUnconfirmed_NotSentAgain()
    {
        const string id = "reply:moved-unreadable";
        await using var h = await StartInGroupAsync();
        var card = await h.SubmitCardedAsync(id, "text");
        await MigrateAsync(h);
        h.Control.InjectFault("sendMessage", SandboxFault.ResponseLost(ResponseLossMode.Unreadable), times: 8);

        await h.Host.Store.TransitionAsync(new Transition(id, [DraftState.Carded], DraftState.Cancelled, "cancelled", "test"));
        await Eventually.TrueAsync(() => h.Host.Store.Events(id).Any(e => e.Type == CardRecords.UnconfirmedEvent), "the card recorded as sent unconfirmed");

        var draft = h.Host.Store.Get(id)!;
        Assert.Equal((DraftState.Cancelled, (long?)Supergroup, (long?)null), (draft.State, draft.CardChatId, draft.CardMessageId));
        Assert.Contains("most likely in chat -100123", draft.CardError, StringComparison.Ordinal);
        // Cancelled: no buttons to tap, nothing for Resend card to send (before the fix it said both were there).
        Assert.EndsWith("The draft no longer awaits a decision: the card has no buttons, and its later outcomes are not shown on a card", draft.CardError,
            StringComparison.Ordinal);
        Assert.DoesNotContain("A tap on it decides once", draft.CardError, StringComparison.Ordinal);
        var unconfirmed = JsonNode.Parse(Assert.Single(h.Host.Store.Events(id), e => e.Type == CardRecords.UnconfirmedEvent).Details!)!;
        Assert.Equal((CardSender.ChatMigratedReason, (long?)Group, (long?)card.MessageId),
            ((string?)unconfirmed["reason"], (long?)unconfirmed["from_chat_id"], (long?)unconfirmed["from_message_id"]));
        await h.Host.Services.GetRequiredService<CardSender>().ShowLatestAsync(id, Group, card.MessageId, CancellationToken.None);
        Assert.Single(h.Control.GetMessages(Supergroup), m => m.Text?.Contains(id, StringComparison.Ordinal) == true);
        Assert.DoesNotContain(h.Host.Store.Events(id), e => e.Type == CardRecords.MovedEvent);

        var status = h.Control.SendUserMessage("/status " + id, chatId: Supergroup);
        var reply = await h.Control.WaitForMessageAsync(m => m.MessageId > status.MessageId && m.ChatId == Supergroup, TelegramHarness.Wait);
        Assert.Contains("Card: no message on record: ", reply.Text, StringComparison.Ordinal);
        Assert.Contains("no longer awaits a decision", reply.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("Resend card", reply.Text, StringComparison.Ordinal);
    }

    /// <summary>
    /// A card left in the old group is sent into the supergroup, Telegram's answer cannot be read, and the store refuses to
    /// record it as sent unconfirmed, so the old card stays on record: the copy is most likely in the supergroup all the same,
    /// so a later pass (a retry of the edit, a look at the cards behind) only tries the record again, and sends no other copy;
    /// once the store takes it, it is recorded. Before the fix each later pass posted another copy.
    /// </summary>
    [Fact]
    public async Task Card_SentIntoTheSupergroupAnsweredUnreadableWhileTheStoreRefusesTheRecord_LaterPassesRecordItSendingNoOtherCopy()
    {
        const string id = "reply:moved-unreadable-unrecorded";
        await using var h = await StartInGroupAsync();
        var card = await h.SubmitCardedAsync(id, "text");
        await MigrateAsync(h);
        h.Control.InjectFault("sendMessage", SandboxFault.ResponseLost(ResponseLossMode.Unreadable), times: 8);
        h.ExecuteOnDatabase("CREATE TRIGGER test_refuse_unconfirmed BEFORE UPDATE OF card_message_id ON drafts WHEN NEW.card_message_id IS NULL " +
            "BEGIN SELECT RAISE(ABORT, 'test: the store refuses to record the card unconfirmed'); END;");

        await h.Host.Store.TransitionAsync(new Transition(id, [DraftState.Carded], DraftState.Cancelled, "cancelled", "test"));
        await h.Control.WaitForMessageAsync(m => m.ChatId == Supergroup && m.Text?.Contains(id, StringComparison.Ordinal) == true, TelegramHarness.Wait);
        // A later pass: it waits for the follow-up's move in the old card's lane, and the store still refuses.
        var sender = h.Host.Services.GetRequiredService<CardSender>();
        await sender.ShowLatestAsync(id, Group, card.MessageId, CancellationToken.None);
        Assert.Single(h.Control.GetMessages(Supergroup), m => m.Text?.Contains(id, StringComparison.Ordinal) == true);
        Assert.DoesNotContain(h.Host.Store.Events(id), e => e.Type == CardRecords.UnconfirmedEvent);
        Assert.Equal(((long?)Group, (long?)card.MessageId), (h.Host.Store.Get(id)!.CardChatId, h.Host.Store.Get(id)!.CardMessageId));

        h.ExecuteOnDatabase("DROP TRIGGER test_refuse_unconfirmed;");
        await sender.ShowLatestAsync(id, Group, card.MessageId, CancellationToken.None);

        Assert.Single(h.Control.GetMessages(Supergroup), m => m.Text?.Contains(id, StringComparison.Ordinal) == true);
        var draft = h.Host.Store.Get(id)!;
        Assert.Equal(((long?)Supergroup, (long?)null), (draft.CardChatId, draft.CardMessageId));
        var unconfirmed = JsonNode.Parse(Assert.Single(h.Host.Store.Events(id), e => e.Type == CardRecords.UnconfirmedEvent).Details!)!;
        Assert.Equal((CardSender.ChatMigratedReason, (long?)Group, (long?)card.MessageId),
            ((string?)unconfirmed["reason"], (long?)unconfirmed["from_chat_id"], (long?)unconfirmed["from_message_id"]));
    }

    /// <summary>
    /// A long draft's card left in the old group: its file goes into the supergroup first, and Telegram's answers to it cannot
    /// be read. The card itself was not sent, so it is not taken for sent: file and card go once more (the follow-ups' retry),
    /// as the outbox does, and after the second such answer the move is given up until the draft changes again
    /// (card_edit_failed, the old card on record). Before the fix every retry of the edit posted another copy of the file.
    /// </summary>
    [Fact]
    public async Task LongDraftsCard_FileSentIntoTheSupergroupAnsweredUnreadableTwice_GivenUpUntilTheDraftChanges()
    {
        const string id = "long:moved-file-unreadable";
        await using var h = await StartInGroupAsync();
        await h.SubmitAsync(id, new string('x', 9_000), kind: "long");
        var card = await h.WaitForCardAsync(id);
        await h.WaitForStateAsync(id, DraftState.Carded);
        await MigrateAsync(h);
        h.Control.InjectFault("sendDocument", SandboxFault.ResponseLost(ResponseLossMode.Unreadable), times: 8);

        await h.Host.Store.TransitionAsync(new Transition(id, [DraftState.Carded], DraftState.Cancelled, "cancelled", "test"));
        await Eventually.TrueAsync(() => h.Host.Store.Events(id).Any(e => e.Type == CardSender.EditFailedEvent), "the move given up");

        var left = JsonNode.Parse(Assert.Single(h.Host.Store.Events(id), e => e.Type == CardSender.EditFailedEvent).Details!)!;
        Assert.Equal(("sendDocument", true, 2, (long?)Supergroup),
            ((string?)left["method"], (bool?)left["outcome_unknown"], (int?)left["unreadable_file_sends"], (long?)left["migrate_to_chat_id"]));
        Assert.Equal(2, h.Control.GetMessages(Supergroup).Count(m => m.Document is not null));
        Assert.DoesNotContain(h.Control.GetMessages(Supergroup), m => m.Document is null && m.Text?.Contains(id, StringComparison.Ordinal) == true);
        var draft = h.Host.Store.Get(id)!;
        Assert.Equal(((long?)Group, (long?)card.MessageId, true), (draft.CardChatId, draft.CardMessageId, draft.CardShowsCurrentState));
        Assert.DoesNotContain(h.Host.Store.Events(id), e => e.Type is CardRecords.UnconfirmedEvent or CardRecords.MovedEvent);
    }

    /// <summary>
    /// A long draft's card left in the old group: its file's first send into the supergroup is answered unreadably, and the
    /// retry is refused (a failure that does not pass), which ends that change's tries. At the draft's next change the move
    /// gets its two tries again: the file's next unreadable answer is retried and the card moves. Before the fix the count
    /// of the earlier change carried over, and that one answer gave the move up (card_edit_failed).
    /// </summary>
    [Fact]
    public async Task LongDraftsCard_UnreadableFileThenARefusalEndTheTries_TheDraftsNextChangeStartsTheCountAfresh()
    {
        const string id = "long:moved-file-count";
        await using var h = await StartInGroupAsync();
        await h.SubmitAsync(id, new string('x', 9_000), kind: "long");
        await h.WaitForCardAsync(id);
        await h.WaitForStateAsync(id, DraftState.Carded);
        await MigrateAsync(h);
        h.Control.InjectFault("sendDocument", SandboxFault.ResponseLost(ResponseLossMode.Unreadable));
        h.Control.InjectFault("sendDocument", SandboxFault.Error(400, "Bad Request: not enough rights to send documents to the chat"));
        h.Control.InjectFault("sendDocument", SandboxFault.ResponseLost(ResponseLossMode.Unreadable));

        // Approved is the decision handler's to show; failed and cancelled are the follow-ups' (each a change of the card).
        await h.Host.Store.TransitionAsync(new Transition(id, [DraftState.Carded], DraftState.Approved, "approved", "test"));
        await h.Host.Store.TransitionAsync(new Transition(id, [DraftState.Approved], DraftState.Failed, "failed", "test"));
        await Eventually.TrueAsync(() => h.Control.GetCalls().Any(c => c.Method == "sendDocument" && c.StatusCode == 400), "the file's retry refused");
        await h.Host.Store.TransitionAsync(new Transition(id, [DraftState.Failed], DraftState.Cancelled, "cancelled", "test"));
        await Eventually.TrueAsync(
            () => h.Host.Store.Events(id).Any(e => e.Type is CardRecords.MovedEvent or CardSender.EditFailedEvent), "the card moved or the move given up");

        Assert.DoesNotContain(h.Host.Store.Events(id), e => e.Type == CardSender.EditFailedEvent);
        var draft = h.Host.Store.Get(id)!;
        Assert.Equal(((long?)Supergroup, DraftState.Cancelled), (draft.CardChatId, draft.State));
    }

    [Fact]
    public async Task Initialize_ConfiguredIdIsAMigrationTarget_EveryChatThatMigratedIntoItIsAFormerChatAndNoOtherIs()
    {
        await using var host = await Infrastructure.TestHost.StartAsync();
        // -1 became -2, which became -3 (the approvers' chat, as configured now); -7 became -8, another lineage.
        foreach (var (from, to) in new[] { (-1L, -2L), (-2L, -3L), (-7L, -8L) })
        {
            await host.Store.SetSettingAsync("telegram.chat_migrated." + from.ToString(CultureInfo.InvariantCulture), to.ToString(CultureInfo.InvariantCulture));
        }

        foreach (var configured in new[] { -1L, -2L, -3L })
        {
            var chat = new TelegramChat(host.Store, NullLogger<TelegramChat>.Instance);
            chat.Initialize(configured, [42]);

            Assert.Equal(-3, chat.ChatId);
            Assert.True(chat.IsApproversChat(-1), $"configured {configured}: -1");
            Assert.True(chat.IsApproversChat(-2), $"configured {configured}: -2");
            Assert.True(chat.IsApproversChat(-3), $"configured {configured}: -3");
            Assert.False(chat.IsApproversChat(-7), $"configured {configured}: -7");
            Assert.False(chat.IsApproversChat(-8), $"configured {configured}: -8");
        }
    }
    /// <summary>
    /// Telegram sends the bot's my_chat_member for the upgrade in no set order with the two service messages: the bot
    /// "joining" the new supergroup (left → member), and possibly it leaving the old group. Coming first in the same batch,
    /// neither may be taken for what it is not: the supergroup's is not a stranger's chat (no security event), the old
    /// group's is not the bot shut out of the approvers' chat (no warning). The migration is followed, and the bot's
    /// arrival in the supergroup counts as being let back in there (what waited on the chat goes).
    /// </summary>
    [Theory]
    [InlineData(Supergroup, "supergroup", "left", "member", "BotLetBackIntoChat")]
    [InlineData(Group, "group", "member", "left", null)]
    public async Task MyChatMemberBeforeTheServiceMessagesInOneBatch_FollowedNotRefusedNotTakenForAShutOut(
        long memberChat, string type, string oldStatus, string newStatus, string? logged)
    {
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(
            [$"ApprovalBot:Telegram:ChatId={Group.ToString(CultureInfo.InvariantCulture)}"], services: s => s.AddSingleton<ILoggerProvider>(logs));
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        // The next poll waits until every update of the upgrade is queued, so they come in one batch, as from Telegram.
        var poll = new SandboxGate();
        h.Control.InjectFault("getUpdates", SandboxFault.Hold(poll));
        h.Control.SendUserMessage("ends the poll under way", chatId: Group);
        await poll.Reached.WaitAsync(TelegramHarness.Wait);

        var member = h.Control.EnqueueRawUpdate(new JsonObject
        {
            ["update_id"] = 0,
            ["my_chat_member"] = new JsonObject
            {
                ["chat"] = new JsonObject { ["id"] = memberChat, ["title"] = "Approvers", ["type"] = type },
                ["from"] = new JsonObject { ["id"] = h.Control.ApproverId, ["is_bot"] = false, ["first_name"] = "Alice" },
                ["date"] = 1_800_000_000,
                ["old_chat_member"] = new JsonObject { ["status"] = oldStatus, ["user"] = new JsonObject { ["id"] = h.Control.BotId, ["is_bot"] = true, ["first_name"] = "Bot" } },
                ["new_chat_member"] = new JsonObject { ["status"] = newStatus, ["user"] = new JsonObject { ["id"] = h.Control.BotId, ["is_bot"] = true, ["first_name"] = "Bot" } },
            },
        }.ToJsonString());
        var service = h.Control.MigrateChat(Group, Supergroup);
        poll.Release();
        await h.Control.WaitForUpdateConfirmedAsync(service[^1], TelegramHarness.Wait);

        Assert.True(member < service[0]);
        Assert.Equal(Supergroup, h.Host.Services.GetRequiredService<TelegramChat>().ChatId);
        Assert.Empty(h.Host.Store.EventsOfType(CallbackRouter.SecurityEvent));
        Assert.DoesNotContain(logs.Entries, e => e.EventId.Name is "SecurityMembershipRefused" or "BotShutOutOfChat");
        Assert.Equal(logged is null ? [] : [logged], logs.Entries.Where(e => e.EventId.Name is "BotLetBackIntoChat").Select(e => e.EventId.Name));
    }
}
