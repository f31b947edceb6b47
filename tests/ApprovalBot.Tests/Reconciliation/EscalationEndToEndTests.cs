using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Execution;
using ApprovalBot.Reconciliation;
using ApprovalBot.Sandbox;
using ApprovalBot.Telegram;
using ApprovalBot.Telegram.Updates;
using ApprovalBot.Tests.Execution;
using ApprovalBot.Tests.Infrastructure;
using ApprovalBot.Tests.Telegram;
using Microsoft.Extensions.DependencyInjection;
using Quartz;

namespace ApprovalBot.Tests.Reconciliation;

/// <summary>
/// Escalations end to end: the host composed as in Program.cs (pipe, Telegram against the sandbox over HTTP,
/// executor and reconcile jobs on Quartz), both job intervals an hour long so that every cycle a test sees was
/// caused by what the test did; the approver's taps go through the sandbox.
/// </summary>
public sealed class EscalationEndToEndTests : SandboxedFlowTests
{
    private readonly JobRuns _jobs = new();

    private Task<TestHost> StartAsync(TimeProvider? time = null, IEnumerable<string>? settings = null) => TestHost.StartAsync(
        settings:
        [
            .. TelegramHarness.SettingsFor(_sandbox), .. _route.Settings("reply", maxAttempts: 2),
            "ApprovalBot:Kinds:reply:StaleAfter=01:00:00",
            "ApprovalBot:Kinds:pulled:MaxLength=280", "ApprovalBot:Kinds:pulled:Executor:Type=pull", "ApprovalBot:Kinds:pulled:Executor:Idempotent=true",
            "ApprovalBot:Kinds:pulled:StuckAfter=00:30:00",
            "ApprovalBot:Kinds:manual:MaxLength=280", "ApprovalBot:Kinds:manual:StuckAfter=00:30:00",
            "ApprovalBot:Execution:IntervalSeconds=3600", "ApprovalBot:Execution:RetryBaseSeconds=0",
            "ApprovalBot:Reconciliation:IntervalSeconds=3600", "ApprovalBot:Reconciliation:RemindEvery=02:00:00",
            .. settings ?? [],
        ],
        dataDirectory: _data.Path,
        services: s =>
        {
            if (time is not null) s.AddSingleton(time);
        },
        compose: b =>
        {
            b.AddTelegram();
            b.AddApprovalJobs(q => q.AddJobListener(_jobs, [GroupMatcher<JobKey>.AnyGroup()]));
            b.AddReconciliation();
        });

    /// <summary>
    /// Both jobs fire once at start (the executor's cycle then fires the reconciler once more), and the cycle held for the
    /// updates that waited at Telegram runs; after that only what the test causes.
    /// </summary>
    private async Task<TestHost> StartSettledAsync(TimeProvider? time = null, IEnumerable<string>? settings = null)
    {
        var (executors, reconciles) = (_jobs.Count(ApprovalJobKeys.Executor), _jobs.Count(ApprovalJobKeys.Reconcile));
        var host = await StartAsync(time, settings);
        await _jobs.WaitForAsync(ApprovalJobKeys.Executor, executors + 1);
        await _jobs.WaitForAsync(ApprovalJobKeys.Reconcile, reconciles + 2);
        await HeldCycle.SettledAsync(host.Services, TelegramHarness.Wait);
        return host;
    }

    private static Reconciler Reconciler(TestHost host) => host.Services.GetRequiredService<Reconciler>();

    private Task<SentMessage> EscalationAsync(string draftId, string? button = null, bool reminder = false) =>
        _sandbox.Control.WaitForMessageAsync(
            m => m.Text is { } t && t.Contains("attention", StringComparison.Ordinal) && t.Contains(draftId, StringComparison.Ordinal)
                && t.StartsWith(reminder ? "🚨 Reminder" : "🚨", StringComparison.Ordinal) && (reminder || !t.StartsWith("🚨 Reminder", StringComparison.Ordinal))
                && (button is null || m.AllButtons.Any(b => b.Text.Contains(button, StringComparison.Ordinal))),
            TelegramHarness.Wait);

    private async Task<CallbackAnswer> PressAsync(SentMessage message, string label)
    {
        var press = _sandbox.Control.PressButton(message.MessageId, TelegramHarness.ButtonData(message, label), _sandbox.Settings.ApproverId);
        return await _sandbox.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
    }

    private async Task<string> CommandAsync(string command, string startsWith)
    {
        var sent = _sandbox.Control.SendUserMessage(command, _sandbox.Settings.ApproverId, _sandbox.PrivateChatId);
        var reply = await _sandbox.Control.WaitForMessageAsync(
            m => m.MessageId > sent.MessageId && m.Text is { } t && t.StartsWith(startsWith, StringComparison.Ordinal), TelegramHarness.Wait);
        return reply.Text!;
    }

    private static Task<Draft> WaitForStateAsync(TestHost host, string id, DraftState state) =>
        host.WaitForStateAsync(id, state, TelegramHarness.Wait);

    private static async Task SubmitAsync(TestHost host, string id, string text, string kind = "reply")
    {
        await using var agent = await host.ConnectAsync();
        Assert.True((await agent.SubmitAsync(new DraftSubmission { Id = id, Kind = kind, Agent = "outbound-engager", Text = text })).Ok);
    }

    private async Task ApproveByTapAsync(TestHost host, string id)
    {
        var card = await _sandbox.Control.WaitForMessageAsync(
            m => m.Text is { } t && t.Contains(id, StringComparison.Ordinal) && m.Versions[0].Buttons.Count > 0, TelegramHarness.Wait);
        await PressAsync(card, "Approve");
        Assert.NotEqual(DraftState.Carded, host.Store.Get(id)!.State);
    }

    [Fact]
    public async Task PullClaim_BlockedByHandoffCheck_EscalatedAtOnceNotAtTheInterval()
    {
        await using var host = await StartSettledAsync();
        await DraftFixtures.ApproveAsync(host.Store, "pulled:vanished", "pull me", kind: "pulled");
        DraftFixtures.Sql(_data.Path, "UPDATE drafts SET text = NULL WHERE id = 'pulled:vanished'");

        await using var agent = await host.ConnectAsync();
        var claim = await agent.ClaimAsync("pulled");

        Assert.True(claim.Ok);
        Assert.Empty(claim.Claimed!);
        Assert.Equal(DraftState.Blocked, host.Store.Get("pulled:vanished")!.State);
        // The reconcile interval is an hour: only the block itself can have fired the cycle that escalated it.
        var escalation = await EscalationAsync("pulled:vanished", "Discard");
        Assert.Contains("text_missing", escalation.Text, StringComparison.Ordinal);
        Assert.Equal(1, _jobs.Count(ApprovalJobKeys.Executor));
    }

    [Fact]
    public async Task ExecutorCycles_EachFollowedByAReconcileCycle()
    {
        await using var host = await StartSettledAsync();
        var scheduler = await host.Services.GetRequiredService<ISchedulerFactory>().GetScheduler();

        for (var cycle = 2; cycle <= 3; cycle++)
        {
            var reconciles = _jobs.Count(ApprovalJobKeys.Reconcile);
            await scheduler.TriggerJob(ApprovalJobKeys.Executor);
            await _jobs.WaitForAsync(ApprovalJobKeys.Executor, cycle);
            await _jobs.WaitForAsync(ApprovalJobKeys.Reconcile, reconciles + 1);
        }

        Assert.Equal(3, _jobs.Count(ApprovalJobKeys.Executor));
        Assert.Equal(4, _jobs.Count(ApprovalJobKeys.Reconcile));
    }

    [Fact]
    public async Task FailingRoute_FailedAndEscalatedWithRetry_TappingRetryExecutesOnce()
    {
        _route.Mode = "fail";
        await using var host = await StartSettledAsync();
        await SubmitAsync(host, "reply:flaky", "post me once");
        await ApproveByTapAsync(host, "reply:flaky");

        await WaitForStateAsync(host, "reply:flaky", DraftState.Failed);
        var escalation = await EscalationAsync("reply:flaky", "Retry");
        Assert.Contains("awaiting_human", escalation.Text, StringComparison.Ordinal);
        Assert.Equal(2, _route.Runs().Count);
        Assert.Empty(_route.Effects());

        _route.Mode = "ok";
        var answer = await PressAsync(escalation, "Retry");
        var executed = await WaitForStateAsync(host, "reply:flaky", DraftState.Executed);

        Assert.Contains("Retry requested", answer.Text, StringComparison.Ordinal);
        var runs = _route.Runs();
        Assert.Equal(3, runs.Count);
        Assert.All(runs, r => Assert.Equal(executed.ExecKey, r.Key));
        Assert.Single(_route.Effects());
        Assert.Equal("https://example.test/reply:flaky", executed.ExecResult);
    }

    [Fact]
    public async Task UndeliveredCard_RetryButtonDeliversItAndDiscardButtonCancelsTheOther()
    {
        await using var host = await StartSettledAsync();
        // A card Telegram refuses for itself is given up at once (one refused for its chat would wait instead).
        var refused = new SandboxFault { Kind = SandboxFaultKind.Error, ErrorCode = 400, Description = "Bad Request: can't parse entities: unexpected end tag" };
        foreach (var id in new[] { "reply:nocard:1", "reply:nocard:2" })
        {
            _sandbox.Control.InjectFault("sendMessage", refused);
            await SubmitAsync(host, id, "text of " + id);
            await Eventually.TrueAsync(() => host.Store.Get(id) is { CardError: not null, CardNextAt: null }, "the outbox to give up on " + id);
        }

        await Reconciler(host).RunOnceAsync(default);
        var escalation = await EscalationAsync("reply:nocard:2", "Retry");
        var first = host.Store.Get("reply:nocard:1")!;
        var second = host.Store.Get("reply:nocard:2")!;
        Assert.Contains("card_undelivered", escalation.Text, StringComparison.Ordinal);

        var retried = await PressAsync(escalation, $"Retry #{first.Seq}");
        var carded = await WaitForStateAsync(host, "reply:nocard:1", DraftState.Carded);
        var discarded = await PressAsync(escalation, $"Discard #{second.Seq}");
        await WaitForStateAsync(host, "reply:nocard:2", DraftState.Cancelled);

        Assert.Contains("Retry requested", retried.Text, StringComparison.Ordinal);
        Assert.Contains("Discarded", discarded.Text, StringComparison.Ordinal);
        Assert.Null(carded.CardError);
        var card = _sandbox.Control.GetMessage(_sandbox.PrivateChatId, (int)carded.CardMessageId!.Value);
        Assert.Contains("text of reply:nocard:1", card!.Text, StringComparison.Ordinal);
        Assert.Empty(host.Services.GetRequiredService<GapFinder>().Find(Gaps.Orphans));
    }

    /// <summary>
    /// A card whose sends Telegram took but answered unreadably (twice) is carded with no message on record: escalated as
    /// card_unconfirmed, most likely in the chat (not as undelivered), with Resend card, which sends one that is recorded and
    /// so closes the gap.
    /// </summary>
    [Fact]
    public async Task UnconfirmedCard_EscalatedAsMostLikelyInTheChat_ResendCardRecordsOne()
    {
        await using var host = await StartSettledAsync();
        _sandbox.Control.InjectFault("sendMessage", SandboxFault.ResponseLost(ResponseLossMode.Unreadable), times: 2);
        await SubmitAsync(host, "reply:unconfirmed", "text of reply:unconfirmed");
        var unconfirmed = await WaitForStateAsync(host, "reply:unconfirmed", DraftState.Carded);
        Assert.Null(unconfirmed.CardMessageId);

        await Reconciler(host).RunOnceAsync(default);
        var escalation = await EscalationAsync("reply:unconfirmed", "Resend card");

        Assert.Contains("card_unconfirmed", escalation.Text, StringComparison.Ordinal);
        Assert.Contains("most likely in chat", escalation.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("card_undelivered", escalation.Text, StringComparison.Ordinal);
        var answer = await PressAsync(escalation, "Resend card");
        Assert.Contains("Sent the card of reply:unconfirmed again", answer.Text, StringComparison.Ordinal);
        var carded = host.Store.Get("reply:unconfirmed")!;
        Assert.NotNull(carded.CardMessageId);
        Assert.Null(carded.CardError);
        Assert.NotEmpty(_sandbox.Control.GetMessage(_sandbox.PrivateChatId, (int)carded.CardMessageId.Value)!.AllButtons);
        Assert.Empty(host.Services.GetRequiredService<GapFinder>().Find(Gaps.Orphans));
    }

    [Fact]
    public async Task StrayTap_DismissButtonClosesTheGapForGood()
    {
        await using var host = await StartSettledAsync();
        await SubmitAsync(host, "reply:card", "a card to tap on");
        var card = await _sandbox.Control.WaitForMessageAsync(m => m.Text?.Contains("reply:card", StringComparison.Ordinal) == true, TelegramHarness.Wait);
        var stray = _sandbox.Control.PressButton(card.MessageId, "a:999999:0123456789abcdef", _sandbox.Settings.ApproverId, requireButton: false);
        await _sandbox.Control.WaitForCallbackAnswerAsync(stray.QueryId, TelegramHarness.Wait);

        await Reconciler(host).RunOnceAsync(default);
        var escalation = await EscalationAsync("no draft in the store", "Dismiss");
        var answer = await PressAsync(escalation, "Dismiss");
        var after = await Reconciler(host).RunOnceAsync(default);

        Assert.Contains("Dismissed", answer.Text, StringComparison.Ordinal);
        Assert.Equal(0, after.Open);
        Assert.Empty(host.Services.GetRequiredService<GapFinder>().Find(Gaps.Orphans));
        var dismissal = Assert.Single(host.Store.EventsOfType(GapDismissals.EventType));
        Assert.Equal("telegram:" + _sandbox.Settings.ApproverId, dismissal.Actor);
        Assert.Contains("Nothing changed", (await PressAsync(escalation, "Dismiss")).Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reports_EmptyThenEveryGapAfterItsLimit_EscalatedOnceAndRemindedLater()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
        await using var host = await StartSettledAsync(clock);
        Assert.StartsWith("No orphans", await CommandAsync("/orphans", "No orphans"), StringComparison.Ordinal);
        Assert.StartsWith("Nothing stale", await CommandAsync("/stale", "Nothing stale"), StringComparison.Ordinal);

        await SubmitAsync(host, "reply:waiting", "decide me");
        await WaitForStateAsync(host, "reply:waiting", DraftState.Carded);
        await DraftFixtures.ApproveAsync(host.Store, "manual:noroute", kind: "manual", at: clock.GetUtcNow());
        await DraftFixtures.ApproveAsync(host.Store, "pulled:leased", "leased text", kind: "pulled", at: clock.GetUtcNow());
        await DraftFixtures.ApproveAsync(host.Store, "pulled:unclaimed", kind: "pulled", at: clock.GetUtcNow());
        await using (var agent = await host.ConnectAsync())
        {
            var claimed = await agent.ClaimAsync("pulled", max: 1, leaseSeconds: 5);
            Assert.Equal("pulled:leased", Assert.Single(claimed.Claimed!).Id);
        }
        // The lease runs out unnoticed; the next executor cycle returns the draft to the queue (a deduping route) and fires a reconcile.
        clock.Advance(TimeSpan.FromMinutes(25));
        var reconciles = _jobs.Count(ApprovalJobKeys.Reconcile);
        await host.Services.GetRequiredService<ExecutorCycle>().RunOnceAsync();
        await _jobs.WaitForAsync(ApprovalJobKeys.Reconcile, reconciles + 1);
        await EscalationAsync("pulled:leased");

        // Past StuckAfter (30 min) of the approvals nobody picks up, before the requeued one is stuck too.
        clock.Advance(TimeSpan.FromMinutes(6));
        var orphans = await CommandAsync("/orphans", "3 orphans");
        Assert.StartsWith("Nothing stale", await CommandAsync("/stale", "Nothing stale"), StringComparison.Ordinal);
        await using (var agent = await host.ConnectAsync())
        {
            var report = (await agent.ReportAsync("orphans")).Report!;
            Assert.Equal(
                [(Gaps.LeaseExpired, "pulled:leased"), (Gaps.NoRoute, "manual:noroute"), (Gaps.PullUnclaimed, "pulled:unclaimed")],
                report.Items.Select(i => (i.Gap, i.DraftId!)).Order());
        }
        Assert.Contains("no_route manual:noroute", orphans, StringComparison.Ordinal);
        Assert.Contains("pull_unclaimed pulled:unclaimed", orphans, StringComparison.Ordinal);
        Assert.Contains("lease_expired pulled:leased", orphans, StringComparison.Ordinal);

        // Past the kind's StaleAfter (1 h) of the draft awaiting a decision.
        clock.Advance(TimeSpan.FromMinutes(30));
        var stale = await CommandAsync("/stale", "1 stale");
        Assert.Contains("awaiting_decision reply:waiting", stale, StringComparison.Ordinal);

        var first = await Reconciler(host).RunOnceAsync(default);
        await EscalationAsync("reply:waiting");
        var again = await Reconciler(host).RunOnceAsync(default);
        clock.Advance(TimeSpan.FromHours(2));
        var later = await Reconciler(host).RunOnceAsync(default);
        await EscalationAsync("reply:waiting", reminder: true);

        // lease_expired was escalated by the reconcile after the executor cycle; the requeued draft is now unclaimed too.
        Assert.Equal((4, 0), (first.Escalated, first.Reminded));
        Assert.Equal((0, 0, 0), (again.Escalated, again.Reminded, again.Messages));
        Assert.Equal((0, 5), (later.Escalated, later.Reminded));
    }
    /// <summary>Stray taps (each a gap of its own with a Dismiss button) on <paramref name="card"/>, all handled; their event ids.</summary>
    private async Task<List<long>> StrayTapsAsync(TestHost host, SentMessage card, int count)
    {
        PressedButton last = null!;
        for (var i = 0; i < count; i++)
        {
            last = _sandbox.Control.PressButton(card.MessageId, "a:999999:0123456789abcdef", _sandbox.Settings.ApproverId, requireButton: false);
        }
        await _sandbox.Control.WaitForUpdateConfirmedAsync(last.UpdateId, TelegramHarness.Wait);
        var taps = host.Store.EventsOfType(OrphanCallbacks.EventType).Select(e => e.Id).ToList();
        Assert.Equal(count, taps.Count);
        return taps;
    }

    /// <summary>How many times each stray tap's Dismiss button was sent in an escalation message.</summary>
    private Dictionary<long, int> DismissButtonsSent() =>
        _sandbox.Control.GetMessages(_sandbox.PrivateChatId)
            .SelectMany(m => m.Versions[0].Buttons.SelectMany(row => row))
            .Select(b => b.Text)
            .Where(t => t.StartsWith("👌 Dismiss stray tap ", StringComparison.Ordinal))
            .GroupBy(t => long.Parse(t["👌 Dismiss stray tap ".Length..], System.Globalization.CultureInfo.InvariantCulture))
            .ToDictionary(g => g.Key, g => g.Count());

    /// <summary>
    /// An escalation too long for one message goes out in parts; the second is refused. Each part the chat took is recorded
    /// as delivered before the next goes, so the retry (here the cycles of a restarted service) sends only the gaps of the
    /// part that failed: the chat sees every gap once, none twice.
    /// </summary>
    [Fact]
    public async Task EscalationInTwoParts_SecondRefused_RetryAfterARestartSendsOnlyTheGapsNotDelivered()
    {
        string[] oneMessage = ["ApprovalBot:Reconciliation:MaxGapsPerMessage=50"];
        var host = await StartSettledAsync(settings: oneMessage);
        List<long> taps;
        try
        {
            await SubmitAsync(host, "reply:card", "a card to tap on");
            var card = await _sandbox.Control.WaitForMessageAsync(m => m.Text?.Contains("reply:card", StringComparison.Ordinal) == true, TelegramHarness.Wait);
            taps = await StrayTapsAsync(host, card, 35);
            // The first part goes through; the second is refused (a 400 is not resent by the client).
            _sandbox.Control.InjectFault("sendMessage", SandboxFault.Hang(TimeSpan.Zero));
            _sandbox.Control.InjectFault("sendMessage", SandboxFault.Error(400, "Bad Request: can't parse entities: test"));

            var failed = await Reconciler(host).RunOnceAsync(default);

            Assert.Equal(0, failed.Messages);
            var delivered = DismissButtonsSent();
            Assert.InRange(delivered.Count, 1, taps.Count - 1);
            Assert.All(delivered.Values, n => Assert.Equal(1, n));
        }
        finally
        {
            await host.DisposeAsync();
        }

        await using var restarted = await StartSettledAsync(settings: oneMessage);
        var retried = await Reconciler(restarted).RunOnceAsync(default);

        Assert.Equal((0, 0), (retried.Escalated, retried.Messages)); // the restart's own cycles sent the rest
        var sent = DismissButtonsSent();
        Assert.Equal(taps.Order(), sent.Keys.Order());
        Assert.All(sent.Values, n => Assert.Equal(1, n));
    }

    /// <summary>
    /// Telegram takes a part of an escalation but its answer cannot be read: most likely it is in the chat, so it counts as
    /// delivered (its gaps recorded as sent) rather than being sent again, which would post it twice; the next part goes on.
    /// </summary>
    [Fact]
    public async Task EscalationPartAnsweredUnreadable_CountedAsDeliveredNotSentAgain()
    {
        await using var host = await StartSettledAsync(settings: ["ApprovalBot:Reconciliation:MaxGapsPerMessage=50"]);
        await SubmitAsync(host, "reply:card", "a card to tap on");
        var card = await _sandbox.Control.WaitForMessageAsync(m => m.Text?.Contains("reply:card", StringComparison.Ordinal) == true, TelegramHarness.Wait);
        var taps = await StrayTapsAsync(host, card, 35);
        _sandbox.Control.InjectFault("sendMessage", SandboxFault.ResponseLost(ResponseLossMode.Unreadable));

        var first = await Reconciler(host).RunOnceAsync(default);
        var again = await Reconciler(host).RunOnceAsync(default);

        Assert.Equal((taps.Count, 1), (first.Escalated, first.Messages));
        Assert.Equal((0, 0, 0), (again.Escalated, again.Reminded, again.Messages));
        var sent = DismissButtonsSent();
        Assert.Equal(taps.Order(), sent.Keys.Order());
        Assert.All(sent.Values, n => Assert.Equal(1, n));
    }

    /// <summary>
    /// The approvers' chat refuses the bot (blocked): the escalation fails and waits on the chat. When Telegram says the bot
    /// was let back in, a reconcile cycle is fired at once, as the cards are sent at once: the escalation arrives without
    /// waiting for the reconcile interval (an hour here).
    /// </summary>
    [Fact]
    public async Task ChatRefusesTheBot_EscalationWaits_SentAtOnceWhenTelegramSaysTheBotIsBack()
    {
        await using var host = await StartSettledAsync();
        await SubmitAsync(host, "reply:card", "a card to tap on");
        var card = await _sandbox.Control.WaitForMessageAsync(m => m.Text?.Contains("reply:card", StringComparison.Ordinal) == true, TelegramHarness.Wait);
        await StrayTapsAsync(host, card, 1);
        _sandbox.Control.RemoveBotFromChat(_sandbox.PrivateChatId);

        var refused = await Reconciler(host).RunOnceAsync(default);
        Assert.Equal((1, 0), (refused.Escalated, refused.Messages));
        Assert.Empty(DismissButtonsSent());
        var reconciles = _jobs.Count(ApprovalJobKeys.Reconcile);

        _sandbox.Control.AddBotToChat(_sandbox.PrivateChatId);

        await EscalationAsync("no draft in the store", "Dismiss");
        await _jobs.WaitForAsync(ApprovalJobKeys.Reconcile, reconciles + 1);
        Assert.Single(DismissButtonsSent());
    }
}
