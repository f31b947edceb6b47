using System.Text.Json;
using ApprovalBot.Drafts;
using ApprovalBot.Reconciliation;
using ApprovalBot.Sandbox;
using ApprovalBot.Telegram.Updates;
using ApprovalBot.Tests.Execution;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Tests.Telegram;

public sealed class CallbackRouterTests
{
    [Fact]
    public async Task Tap_ByNonApprover_RefusedLoggedAsSecurityEventNothingChanges()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.SubmitAsync("reply:stranger", "text");
        var card = await h.WaitForCardAsync("reply:stranger");

        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"), fromUserId: h.Control.StrangerId);
        var answer = await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);

        Assert.Contains("Not authorized", answer.Text);
        var draft = await h.WaitForStateAsync("reply:stranger", DraftState.Carded);
        Assert.Null(draft.Decision);
        var security = Assert.Single(h.Host.Store.EventsOfType(CallbackRouter.SecurityEvent));
        Assert.Null(security.DraftId);
        Assert.Contains("not_approver", security.Details);
        Assert.Contains(h.Control.StrangerId.ToString(System.Globalization.CultureInfo.InvariantCulture), security.Details);
        Assert.Equal(0, h.Control.GetMessage(h.ChatId, card.MessageId)!.EditCount);
    }

    [Fact]
    public async Task Tap_ByStrangerWithLongData_RecordBoundedAnsweredServiceServes()
    {
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        var card = await h.SubmitCardedAsync("reply:long-data", "text");
        // Telegram allows 64 bytes; emoji, so the bound falls inside a surrogate pair.
        var data = string.Concat(Enumerable.Repeat("😀", 2000));

        var press = h.Control.PressButton(card.MessageId, data, fromUserId: h.Control.StrangerId, requireButton: false);
        var answer = await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        await h.Control.WaitForUpdateConfirmedAsync(press.UpdateId, TelegramHarness.Wait);

        Assert.Contains("Not authorized", answer.Text);
        var security = Assert.Single(h.Host.Store.EventsOfType(CallbackRouter.SecurityEvent));
        Assert.True(security.Details!.Length < 600, $"{security.Details.Length} characters");
        var details = JsonDocument.Parse(security.Details).RootElement;
        // 31 emoji: a 32nd would put half an emoji at the bound.
        Assert.Equal(string.Concat(Enumerable.Repeat("😀", 31)) + "…", details.GetProperty("data").GetString());
        Assert.Equal(4000, details.GetProperty("data_length").GetInt32());
        Assert.Equal("not_approver", details.GetProperty("reason").GetString());
        Assert.Equal(press.QueryId, details.GetProperty("query_id").GetString());
        Assert.All(logs.Entries.Where(e => e.Category.StartsWith("ApprovalBot.Telegram", StringComparison.Ordinal)), e => Assert.True(e.Message.Length < 400, e.Message));

        var approve = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        Assert.Contains("Approved", (await h.Control.WaitForCallbackAnswerAsync(approve.QueryId, TelegramHarness.Wait)).Text);
        Assert.Equal(DraftState.Approved, h.Host.Store.Get("reply:long-data")!.State);
    }

    [Fact]
    public async Task Tap_ForgedLongCallbackData_OrphanRecordBoundedStillReported()
    {
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        var card = await h.SubmitCardedAsync("reply:forged-long", "text");

        var press = h.Control.PressButton(card.MessageId, "a:" + new string('9', 4000), requireButton: false);
        var answer = await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        await h.Control.WaitForUpdateConfirmedAsync(press.UpdateId, TelegramHarness.Wait);

        Assert.Contains("does not match a stored draft", answer.Text);
        var orphan = Assert.Single(h.Host.Store.EventsOfType(OrphanCallbacks.EventType));
        Assert.True(orphan.Details!.Length < 600, $"{orphan.Details.Length} characters");
        var details = JsonDocument.Parse(orphan.Details).RootElement;
        Assert.Equal("a:" + new string('9', 61) + "…", details.GetProperty("data").GetString());
        Assert.Equal(4002, details.GetProperty("data_length").GetInt32());
        Assert.Equal("malformed", details.GetProperty("reason").GetString());
        var logged = Assert.Single(logs.Entries, e => e.Message.StartsWith("Orphan callback", StringComparison.Ordinal));
        Assert.Equal("a:" + new string('9', 61) + "…", logged.Properties["CallbackData"]);
        // The approvers' report of stray taps (/orphans, and its escalation) still lists it, the record as its detail.
        var finder = new GapFinder(h.Host.Store, h.Host.Services.GetRequiredService<IOptionsMonitor<KindsOptions>>(),
            new ConfiguredRouteLookup(h.Host.Services.GetRequiredService<IConfiguration>()), Options.Create(new ReconciliationOptions()), TimeProvider.System);
        var gap = Assert.Single(finder.Find(Gaps.Orphans), g => g.Name == Gaps.OrphanCallback);
        Assert.Contains(orphan.Details, gap.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tap_ByApproverFromAnotherChat_Refused()
    {
        await using var h = await TelegramHarness.StartAsync();
        var card = await h.SubmitCardedAsync("reply:other-chat", "text");

        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"), chatId: h.Control.GroupChatId, requireButton: false);
        var answer = await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);

        Assert.Contains("Not authorized", answer.Text);
        Assert.Equal(DraftState.Carded, h.Host.Store.Get("reply:other-chat")!.State);
        Assert.Contains("wrong_chat", Assert.Single(h.Host.Store.EventsOfType(CallbackRouter.SecurityEvent)).Details);
    }

    /// <summary>
    /// A real card left in the chat that was ChatId until the operator set another (no upgrade: that chat still exists and is
    /// not the approvers' any more) is refused like any tap from another chat; only a group the chat was upgraded from counts.
    /// </summary>
    [Fact]
    public async Task Tap_OnARealCardLeftInAFormerChatId_RefusedWrongChatNothingChanges()
    {
        await using var h = await TelegramHarness.StartAsync();
        var card = await h.SubmitCardedAsync("reply:former-chat", "text");
        await h.RestartHostAsync(settings: [$"ApprovalBot:Telegram:ChatId={h.Control.GroupChatId.ToString(System.Globalization.CultureInfo.InvariantCulture)}"]);
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);

        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"), chatId: h.ChatId, requireButton: false);
        var answer = await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);

        Assert.Equal("⛔ Not authorized.", answer.Text);
        var draft = h.Host.Store.Get("reply:former-chat")!;
        Assert.True(DraftStateMachine.AwaitsDecision(draft.State), draft.State.ToWire());
        Assert.Null(draft.Decision);
        Assert.Contains("\"reason\":\"wrong_chat\"", Assert.Single(h.Host.Store.EventsOfType(CallbackRouter.SecurityEvent)).Details, StringComparison.Ordinal);
        Assert.DoesNotContain(h.Host.Store.Events("reply:former-chat"), e => e.Type == DecisionHandler.DecidedEvent);
    }

    [Theory]
    [InlineData("unknown seq", "a:999:{hash}", "unknown_draft", false)]
    [InlineData("wrong hash", "a:{seq}:0000000000000000", "hash_mismatch", true)]
    [InlineData("garbage", "approve please", "malformed", false)]
    [InlineData("uppercase hash", "a:{seq}:{HASH}", "malformed", false)]
    [InlineData("unknown action", "x:{seq}:{hash}", "malformed", false)]
    [InlineData("seq with a leading zero", "a:0{seq}:{hash}", "malformed", false)]
    [InlineData("reject, seq with leading zeros", "r:00{seq}:{hash}", "malformed", false)]
    public async Task Tap_ForgedCallbackData_RefusedAndRecordedAsOrphan(string scenario, string template, string reason, bool hasDraft)
    {
        await using var h = await TelegramHarness.StartAsync();
        var receipt = await h.SubmitAsync("reply:forged", "text");
        var card = await h.WaitForCardAsync("reply:forged");
        var data = template.Replace("{seq}", receipt.Seq.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{hash}", receipt.Sha256[..16], StringComparison.Ordinal)
            .Replace("{HASH}", receipt.Sha256[..16].ToUpperInvariant(), StringComparison.Ordinal);

        var press = h.Control.PressButton(card.MessageId, data, requireButton: false);
        var answer = await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);

        Assert.Contains("does not match a stored draft", answer.Text);
        Assert.Equal(DraftState.Carded, (await h.WaitForStateAsync("reply:forged", DraftState.Carded)).State);
        var orphan = Assert.Single(h.Host.Store.EventsOfType(OrphanCallbacks.EventType));
        Assert.True(hasDraft ? orphan.DraftId == "reply:forged" : orphan.DraftId is null, scenario);
        Assert.Contains(reason, orphan.Details);
        Assert.Equal(0, h.Control.GetMessage(h.ChatId, card.MessageId)!.EditCount);
    }

    [Fact]
    public async Task Tap_ByNonApproverDeliveredTwice_OneSecurityEvent()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.SubmitAsync("reply:stranger-twice", "text");
        var card = await h.WaitForCardAsync("reply:stranger-twice");
        var data = TelegramHarness.ButtonData(card, "Approve");
        var press = h.Control.PressButton(card.MessageId, data, fromUserId: h.Control.StrangerId);
        await h.Control.WaitForUpdateConfirmedAsync(press.UpdateId, TelegramHarness.Wait);

        var again = h.RedeliverPress(press, card.MessageId, data, h.Control.StrangerId);
        await h.Control.WaitForUpdateConfirmedAsync(again, TelegramHarness.Wait);

        var security = Assert.Single(h.Host.Store.EventsOfType(CallbackRouter.SecurityEvent));
        Assert.Contains(press.QueryId, security.Details);
        Assert.Equal(DraftState.Carded, h.Host.Store.Get("reply:stranger-twice")!.State);
    }

    [Theory]
    [InlineData("a:999:{hash}", "unknown_draft")]
    [InlineData("a:{seq}:0000000000000000", "hash_mismatch")]
    [InlineData("approve please", "malformed")]
    [InlineData("er:999:{hash}", "unknown_draft")]
    public async Task Tap_ForgedCallbackDeliveredTwice_OneOrphanEvent(string template, string reason)
    {
        await using var h = await TelegramHarness.StartAsync();
        var receipt = await h.SubmitAsync("reply:forged-twice", "text");
        var card = await h.WaitForCardAsync("reply:forged-twice");
        var data = template.Replace("{seq}", receipt.Seq.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{hash}", receipt.Sha256[..16], StringComparison.Ordinal);
        var press = h.Control.PressButton(card.MessageId, data, requireButton: false);
        await h.Control.WaitForUpdateConfirmedAsync(press.UpdateId, TelegramHarness.Wait);

        var again = h.RedeliverPress(press, card.MessageId, data, h.Control.ApproverId);
        await h.Control.WaitForUpdateConfirmedAsync(again, TelegramHarness.Wait);

        var orphan = Assert.Single(h.Host.Store.EventsOfType(OrphanCallbacks.EventType));
        Assert.Contains(reason, orphan.Details);
        Assert.Contains(press.QueryId, orphan.Details);
    }

    [Fact]
    public async Task Tap_TwoDifferentForgedPresses_TwoOrphanEvents()
    {
        await using var h = await TelegramHarness.StartAsync();
        var card = await SubmitAndWaitAsync(h, "reply:forged-two");

        var first = h.Control.PressButton(card.MessageId, "a:999:0000000000000000", requireButton: false);
        var second = h.Control.PressButton(card.MessageId, "a:999:0000000000000000", requireButton: false);
        await h.Control.WaitForUpdateConfirmedAsync(second.UpdateId, TelegramHarness.Wait);

        Assert.Equal([first.QueryId, second.QueryId], h.Host.Store.EventsOfType(OrphanCallbacks.EventType)
            .Select(e => System.Text.Json.JsonDocument.Parse(e.Details!).RootElement.GetProperty("query_id").GetString()));
    }

    private static async Task<SentMessage> SubmitAndWaitAsync(TelegramHarness h, string id)
    {
        await h.SubmitAsync(id, "text");
        return await h.WaitForCardAsync(id);
    }
}
