using ApprovalBot.Drafts;
using ApprovalBot.Reconciliation;
using ApprovalBot.Telegram.Cards;
using ApprovalBot.Telegram.Escalations;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalBot.Tests.Telegram;

public sealed class TelegramEscalationChannelTests
{
    [Fact]
    public async Task SendAsync_GapsWithActions_RendersEachGapAndRetryButtonMovesDraft()
    {
        await using var h = await TelegramHarness.StartAsync();
        var receipt = await h.SubmitAsync("reply:esc", "text");
        await h.WaitForStateAsync("reply:esc", DraftState.Carded);
        var store = h.Host.Store;
        await store.TransitionAsync(new Transition("reply:esc", [DraftState.Carded], DraftState.Approved, "decided", "test") { Set = new Dictionary<string, object?> { ["decision"] = "approved" } });
        await store.TransitionAsync(new Transition("reply:esc", [DraftState.Approved], DraftState.Executing, "exec_started", "test"));
        await store.TransitionAsync(new Transition("reply:esc", [DraftState.Executing], DraftState.Failed, "exec_failed", "test") { Set = new Dictionary<string, object?> { ["exec_error"] = "sink said <no>" } });
        var channel = h.Host.Services.GetRequiredService<IEscalationChannel>();
        var since = new DateTimeOffset(2026, 1, 2, 3, 4, 0, TimeSpan.Zero);

        await channel.SendAsync(new Escalation("Needs a human", [
            new EscalatedGap("reply:esc", receipt.Seq, receipt.Sha256, "failed", since, "sink said <no>", [ApproverAction.Retry, ApproverAction.Discard], Reminder: false),
            new EscalatedGap(null, null, null, "orphan_callback", since, "tap on a card whose draft is not in the store", [], Reminder: true),
        ]), CancellationToken.None);

        var message = await h.Control.WaitForMessageAsync(m => m.Text?.Contains("Needs a human", StringComparison.Ordinal) == true, TelegramHarness.Wait);
        Assert.Contains("reply:esc", message.Text);
        Assert.Contains("sink said <no>", message.Text);
        Assert.Contains("2026-01-02 03:04 UTC", message.Text);
        Assert.Contains("orphan_callback", message.Text);
        Assert.Contains("Reminder", message.Text);
        Assert.All(message.AllButtons, b => Assert.True(System.Text.Encoding.UTF8.GetByteCount(b.CallbackData!) <= 64));
        Assert.Equal(2, message.AllButtons.Count());

        var retry = message.AllButtons.Single(b => b.Text.Contains("Retry", StringComparison.Ordinal));
        var press = h.Control.PressButton(message.MessageId, retry.CallbackData!);
        var answer = await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);

        Assert.Contains("Retry requested", answer.Text);
        Assert.Equal(DraftState.Approved, store.Get("reply:esc")!.State);

        var again = h.Control.PressButton(message.MessageId, retry.CallbackData!);
        Assert.Contains("Nothing changed", (await h.Control.WaitForCallbackAnswerAsync(again.QueryId, TelegramHarness.Wait)).Text);
    }

    [Fact]
    public void Render_AwaitingDecisionWithResendCard_OneButtonBoundToTheDraftsSeqAndHash()
    {
        var sha = Infrastructure.Sha.Hex("waiting");
        var gap = new EscalatedGap("reply:waiting", long.MaxValue, sha, "stale/awaiting_decision", DateTimeOffset.UnixEpoch, "awaiting a decision for 2h 0m",
            [ApproverAction.ResendCard], Reminder: false) { StateSince = DateTimeOffset.UnixEpoch };

        var buttons = Assert.Single(TelegramEscalationChannel.RenderParts(new Escalation("1 stale needs attention", [gap]))).Buttons;

        var button = Assert.Single(Assert.Single(buttons));
        Assert.Equal($"🔁 Resend card #{long.MaxValue}", button.Text);
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(button.CallbackData!) <= 64);
        Assert.True(CallbackData.TryParse(button.CallbackData, out var data));
        Assert.Equal((CallbackAction.ResendCard, long.MaxValue, sha[..16], (long?)null), (data.Action, data.Seq, data.HashPrefix, data.StateSinceMs));
    }

    [Fact]
    public async Task SendAsync_GapStandingForThoseNotListed_SaysHowManyNotThatItsDraftIsMissing()
    {
        await using var h = await TelegramHarness.StartAsync();
        var channel = h.Host.Services.GetRequiredService<IEscalationChannel>();
        var since = new DateTimeOffset(2026, 1, 2, 3, 4, 0, TimeSpan.Zero);

        await channel.SendAsync(new Escalation("Too many to list", [
            new EscalatedGap(null, null, null, "orphans/text_missing", since, "12000 more text_missing not listed: only the oldest 10000 are", [], Reminder: false) { NotListed = 12_000 },
        ]), CancellationToken.None);

        var message = await h.Control.WaitForMessageAsync(m => m.Text?.Contains("Too many to list", StringComparison.Ordinal) == true, TelegramHarness.Wait);
        Assert.Contains("(12,000 not listed)", message.Text);
        Assert.DoesNotContain("no draft in the store", message.Text);
    }

    [Fact]
    public async Task EscalationButton_PressedByNonApprover_Refused()
    {
        await using var h = await TelegramHarness.StartAsync();
        var receipt = await h.SubmitAsync("reply:esc-stranger", "text");
        await h.WaitForStateAsync("reply:esc-stranger", DraftState.Carded);
        var channel = h.Host.Services.GetRequiredService<IEscalationChannel>();
        await channel.SendAsync(new Escalation("Stuck", [
            new EscalatedGap("reply:esc-stranger", receipt.Seq, receipt.Sha256, "stale", DateTimeOffset.UtcNow, "waiting", [ApproverAction.Discard], false),
        ]), CancellationToken.None);
        var message = await h.Control.WaitForMessageAsync(m => m.Text?.Contains("Stuck", StringComparison.Ordinal) == true, TelegramHarness.Wait);

        var press = h.Control.PressButton(message.MessageId, message.AllButtons.Single().CallbackData!, fromUserId: h.Control.StrangerId);

        Assert.Contains("Not authorized", (await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait)).Text);
        Assert.Equal(DraftState.Carded, h.Host.Store.Get("reply:esc-stranger")!.State);
    }
}
