using System.Globalization;
using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Execution;
using ApprovalBot.Reconciliation;
using ApprovalBot.Sandbox;
using ApprovalBot.Telegram;
using ApprovalBot.Tests.Execution;
using ApprovalBot.Tests.Infrastructure;
using ApprovalBot.Tests.Telegram;

namespace ApprovalBot.Tests.Reconciliation;

/// <summary>
/// The whole flow with every feature composed as in Program.cs: the pipe, Telegram against the sandbox over
/// HTTP, the executor on Quartz with a real command route, and the reconciler escalating to the chat.
/// </summary>
public sealed class EndToEndTests : SandboxedFlowTests
{
    private Task<TestHost> StartAsync(bool withJobs) => TestHost.StartAsync(
        settings: [.. TelegramHarness.SettingsFor(_sandbox), .. _route.Settings("reply"), "ApprovalBot:Execution:IntervalSeconds=3600"],
        dataDirectory: _data.Path,
        compose: b =>
        {
            b.AddTelegram();
            if (withJobs)
            {
                b.AddApprovalJobs();
                b.AddReconciliation();
            }
        });

    private async Task<SentMessage> CardOf(string id) =>
        await _sandbox.Control.WaitForMessageAsync(m => m.Text is { } t && t.Contains(id, StringComparison.Ordinal) && m.Versions[0].Buttons.Count > 0, TelegramHarness.Wait);

    private async Task ApproveAsync(TestHost host, string id)
    {
        var card = await CardOf(id);
        var press = _sandbox.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"), _sandbox.Settings.ApproverId);
        await _sandbox.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        Assert.Equal(DraftState.Approved, host.Store.Get(id)!.State);
    }

    [Fact]
    public async Task SeedIncident_TwentyApprovalsWhoseTextVanished_NoneExecutedAllBlockedReportedAndEscalatedGrouped()
    {
        var ids = Enumerable.Range(0, 20).Select(i => $"reply:seed:{i}").ToList();
        await using (var decisions = await StartAsync(withJobs: false))
        {
            await using var agent = await decisions.ConnectAsync();
            foreach (var id in ids)
            {
                Assert.True((await agent.SubmitAsync(new DraftSubmission { Id = id, Kind = "reply", Agent = "outbound-engager", Text = $"reply {id}" })).Ok);
            }
            foreach (var id in ids)
            {
                await ApproveAsync(decisions, id);
            }
        }
        // Behind the service's back, as in the incident: the approvals stay, the texts are gone.
        DraftFixtures.Sql(_data.Path, "UPDATE drafts SET text = NULL WHERE id LIKE 'reply:seed:%'");

        await using var host = await StartAsync(withJobs: true);
        // Grouped: a burst of 20 gaps arrives as a few messages (split only by Telegram's length limit), not 20.
        var escalations = await WaitForEscalationsCoveringAsync(ids);
        foreach (var id in ids)
        {
            await WaitForAsync(host, id, DraftState.Blocked);
        }

        Assert.Empty(_route.Runs());
        Assert.All(ids, id => Assert.Equal(DraftState.Blocked, host.Store.Get(id)!.State));
        var blockedEvents = host.Store.EventsOfType("handoff_blocked");
        Assert.Equal(ids.Order(StringComparer.Ordinal), blockedEvents.Select(e => e.DraftId!).Order(StringComparer.Ordinal));
        Assert.All(blockedEvents, e => Assert.Contains("missing", e.Details, StringComparison.OrdinalIgnoreCase));
        await using var client = await host.ConnectAsync();
        var report = (await client.ReportAsync("orphans")).Report!;
        Assert.Equal(ids.Order(StringComparer.Ordinal), report.Items.Where(i => i.Gap == Gaps.TextMissing).Select(i => i.DraftId!).Order(StringComparer.Ordinal));
        Assert.InRange(escalations.Count, 1, 3);
        Assert.All(escalations, m => Assert.NotEmpty(m.AllButtons));

        var command = _sandbox.Control.SendUserMessage("/orphans", _sandbox.Settings.ApproverId, _sandbox.PrivateChatId);
        var reply = await _sandbox.Control.WaitForMessageAsync(m => m.MessageId > command.MessageId && m.Text is { } t && t.StartsWith("20 orphans", StringComparison.Ordinal), TelegramHarness.Wait);
        Assert.InRange(reply.Text!.Length, 1, 4096);
        var listed = ids.Count(id => reply.Text.Contains(id + " ", StringComparison.Ordinal));
        Assert.True(listed == ids.Count || reply.Text.Contains($"and {ids.Count - listed} more", StringComparison.Ordinal), reply.Text);
    }

    [Fact]
    public async Task ApproveTap_CommandRouteGetsExactTextAndKey_CardShowsResultAndWaitReturnsExecuted()
    {
        await using var host = await StartAsync(withJobs: true);
        await using var agent = await host.ConnectAsync();
        const string text = "Thanks — <that> & \"this\" 👍";
        await agent.SubmitAsync(new DraftSubmission { Id = "reply:e2e:1", Kind = "reply", Agent = "outbound-engager", Text = text });
        var waiting = agent.WaitAsync("reply:e2e:1", 30_000);
        await using var finalWaiter = await host.ConnectAsync();
        var finished = finalWaiter.WaitAsync("reply:e2e:1", 30_000, WaitUntil.Final);

        var card = await CardOf("reply:e2e:1");
        _sandbox.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"), _sandbox.Settings.ApproverId);
        var decided = await waiting;
        var executed = (await finished).Draft!;
        var edited = await _sandbox.Control.WaitForEditAsync(_sandbox.PrivateChatId, card.MessageId, TelegramHarness.Wait, m => m.Text?.Contains("Executed", StringComparison.Ordinal) == true);

        // The executor is woken by the same commit as the waiter, so the draft may already have moved on when the
        // wait reads it: decided means approved, with the decision, whatever the state by then.
        Assert.True(decided.Decided);
        Assert.Equal("approved", decided.Draft!.Decision!.Outcome);
        Assert.Contains(decided.Draft.State, new[] { States.Approved, States.Executing, States.Executed });
        Assert.Equal(States.Executed, executed.State);
        var run = Assert.Single(_route.Runs());
        Assert.Equal(text, run.Text);
        Assert.Equal(run.Key, run.EnvKey);
        Assert.Equal(executed.Execution!.IdempotencyKey, run.Key);
        Assert.Equal("https://example.test/reply:e2e:1", executed.Execution.Result);
        Assert.Contains("https://example.test/reply:e2e:1", edited.Text, StringComparison.Ordinal);
        Assert.Contains("Approved by", edited.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OrphansCommand_FromNonApproverInGroup_NoReportAndSecurityEventRecorded()
    {
        await using var host = await StartAsync(withJobs: true);
        await DraftFixtures.ApproveAsync(host.Store, "reply:secret");
        DraftFixtures.Sql(_data.Path, "UPDATE drafts SET text = NULL WHERE id = 'reply:secret'");

        _sandbox.Control.SendUserMessage("/orphans", _sandbox.Settings.StrangerId, _sandbox.Settings.GroupChatId);
        // Not the update's confirmation: an approver's reply would be sent after it.
        await _sandbox.Control.AllRepliesSentAsync(_sandbox.PrivateChatId);

        Assert.Empty(_sandbox.Control.GetMessages(_sandbox.Settings.GroupChatId));
        var refusal = Assert.Single(host.Store.EventsOfType("security"));
        Assert.Contains("command_not_authorized", refusal.Details, StringComparison.Ordinal);
        Assert.Contains(_sandbox.Settings.StrangerId.ToString(CultureInfo.InvariantCulture), refusal.Details, StringComparison.Ordinal);
    }

    private async Task<List<SentMessage>> WaitForEscalationsCoveringAsync(IReadOnlyList<string> ids)
    {
        foreach (var id in ids)
        {
            await _sandbox.Control.WaitForMessageAsync(m => IsEscalation(m) && m.Text!.Contains(id, StringComparison.Ordinal), TelegramHarness.Wait);
        }
        return Escalations();

        // One message or several: the reconciler escalates what it found in each cycle, and a cycle may come while
        // the executor is still blocking the last few (then a later one says "1 orphan needs attention").
        static bool IsEscalation(SentMessage m) => m.Text is { } t
            && (t.Contains("orphans need attention", StringComparison.Ordinal) || t.Contains("orphan needs attention", StringComparison.Ordinal));

        List<SentMessage> Escalations() => [.. _sandbox.Control.GetMessages(_sandbox.PrivateChatId).Where(IsEscalation)];
    }

    /// <summary>Waits on the store's change signal (no polling) until the draft is in <paramref name="state"/>.</summary>
    private static async Task<DraftView> WaitForAsync(TestHost host, string id, DraftState state) =>
        (await host.WaitForStateAsync(id, state, TelegramHarness.Wait)).ToView();
}
