using ApprovalBot.Drafts;
using ApprovalBot.Reconciliation;
using ApprovalBot.Tests.Execution;
using ApprovalBot.Sandbox;
using ApprovalBot.Tests.Infrastructure;
using ApprovalBot.Tests.Telegram;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Tests.Reconciliation;

public sealed class ReconcilerTests : IAsyncLifetime
{
    private readonly ManualTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private readonly RecordingEscalationChannel _chat = new();
    private readonly CapturedLogs _logs = new();
    private readonly MissedDecisions _missed = new();
    private TestHost _host = null!;

    public async Task InitializeAsync() => _host = await TestHost.StartAsync(
        ["ApprovalBot:Reconciliation:RemindEvery=02:00:00", "ApprovalBot:Reconciliation:MaxGapsPerMessage=20", "ApprovalBot:Kinds:pulled:Executor:Type=pull",
            "ApprovalBot:Kinds:expiring:StaleAfter=1.00:00:00", "ApprovalBot:Kinds:expiring:ExpireAfter=2.00:00:00"],
        services: s =>
        {
            s.AddSingleton<TimeProvider>(_clock);
            s.AddSingleton<IEscalationChannel>(_chat);
            s.AddSingleton<ILoggerProvider>(_logs);
            s.AddSingleton<IMissedDecisions>(_missed);
        },
        compose: b => b.AddReconciliation());

    /// <summary>Taps made while the service was down not fetched yet (<see cref="TakenIn"/> false), then fetched.</summary>
    private sealed class MissedDecisions : IMissedDecisions
    {
        private TaskCompletionSource _takenIn = new();

        public MissedDecisions() => _takenIn.SetResult();

        public bool TakenIn => _takenIn.Task.IsCompleted;

        public Task WhenTakenIn => _takenIn.Task;

        public void Waiting() => _takenIn = new TaskCompletionSource();

        public void In() => _takenIn.TrySetResult();

        public DateTimeOffset TapsSeenBefore(DateTimeOffset now) => now;
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private Reconciler Reconciler => _host.Services.GetRequiredService<Reconciler>();

    /// <summary>A reconciler whose reports list at most <paramref name="limit"/> gaps of each class.</summary>
    private Reconciler WithLimit(int limit) => ActivatorUtilities.CreateInstance<Reconciler>(
        _host.Services, ActivatorUtilities.CreateInstance<GapFinder>(_host.Services, limit));

    private async Task FailAsync(string id)
    {
        await DraftFixtures.ApproveAsync(_host.Store, id);
        await DraftFixtures.MoveAsync(_host.Store, id, DraftState.Approved, DraftState.Executing);
        await DraftFixtures.MoveAsync(_host.Store, id, DraftState.Executing, DraftState.Failed, new Dictionary<string, object?> { ["exec_error"] = "boom" });
    }

    [Fact]
    public async Task RunOnceAsync_TapsMadeWhileDownNotFetchedYet_NothingExpiredOrEscalatedUntilTheyAre()
    {
        await FailAsync("reply:failed");
        await DraftFixtures.SubmitAsync(_host.Store, "expiring:overdue", kind: "expiring");
        _clock.Advance(TimeSpan.FromDays(3));
        _missed.Waiting();

        var held = await Reconciler.RunOnceAsync(default);
        var heldState = _host.Store.Get("expiring:overdue")!.State;
        var sentWhileHeld = _chat.Sent.Count;
        _missed.In();
        var cycle = await Reconciler.RunOnceAsync(default);

        Assert.Equal(new Reconciler.CycleResult(0, 0, 0, 0, 0, 0), held);
        Assert.Equal((DraftState.Pending, 0), (heldState, sentWhileHeld));
        Assert.Contains(_logs.Entries, e => e.Message == "Expiry and escalations wait until the taps made while the service was down are fetched from the chat");
        Assert.Equal(1, cycle.Expired);
        Assert.Equal(DraftState.Expired, _host.Store.Get("expiring:overdue")!.State);
        Assert.Equal("reply:failed", Assert.Single(Assert.Single(_chat.Sent).Gaps).DraftId);
    }

    [Fact]
    public async Task RunOnceAsync_NewGap_EscalatedOnceThenRemindedOnSchedule()
    {
        await FailAsync("reply:f1");

        await Reconciler.RunOnceAsync(default);
        await Reconciler.RunOnceAsync(default);
        _clock.Advance(TimeSpan.FromMinutes(119));
        await Reconciler.RunOnceAsync(default);

        var first = Assert.Single(_chat.Sent);
        Assert.False(first.Gaps[0].Reminder);
        Assert.Equal("reply:f1", first.Gaps[0].DraftId);

        _clock.Advance(TimeSpan.FromMinutes(2));
        await Reconciler.RunOnceAsync(default);

        Assert.Equal(2, _chat.Sent.Count);
        Assert.True(_chat.Sent[1].Gaps[0].Reminder);
        Assert.StartsWith("Reminder", _chat.Sent[1].Title, StringComparison.Ordinal);
    }

    /// <summary>
    /// The cycle expires first, then reports: a draft past its kind's ExpireAfter is no longer awaiting a decision in the same
    /// cycle, so its open stale gap closes and nothing about it is sent (an expiry is shown on the card, not escalated).
    /// </summary>
    [Fact]
    public async Task RunOnceAsync_DraftPastItsKindsExpireAfter_ExpiredBeforeTheReportsSoItsStaleGapClosesAndNothingIsSent()
    {
        await DraftFixtures.SubmitAsync(_host.Store, "expiring:e1", kind: "expiring");
        _clock.Advance(TimeSpan.FromDays(1));
        var stale = await Reconciler.RunOnceAsync(default);
        _clock.Advance(TimeSpan.FromDays(1));
        var expiring = await Reconciler.RunOnceAsync(default);
        _clock.Advance(TimeSpan.FromDays(1));
        var after = await Reconciler.RunOnceAsync(default);

        Assert.Equal((1, 1, 0), (stale.Open, stale.Escalated, stale.Expired));
        Assert.Equal((0, 0, 0, 1, 1), (expiring.Open, expiring.Escalated, expiring.Reminded, expiring.Resolved, expiring.Expired));
        Assert.Equal((0, 0, 0), (after.Open, after.Messages, after.Expired));
        Assert.Equal("expiring:e1", Assert.Single(Assert.Single(_chat.Sent).Gaps).DraftId);
        Assert.Equal(DraftState.Expired, _host.Store.Get("expiring:e1")!.State);
    }

    [Fact]
    public async Task RunOnceAsync_OneGapThenTwo_TitlesCountThemInPlainEnglish()
    {
        await FailAsync("reply:t1");
        await Reconciler.RunOnceAsync(default);
        await FailAsync("reply:t2");
        await FailAsync("reply:t3");
        await Reconciler.RunOnceAsync(default);

        Assert.Equal(2, _chat.Sent.Count);
        Assert.Equal("1 stale needs attention", _chat.Sent[0].Title);
        Assert.Equal("2 stale need attention", _chat.Sent[1].Title);
    }

    [Fact]
    public async Task RunOnceAsync_BurstOfGaps_GroupedIntoFewMessages()
    {
        for (var i = 0; i < 45; i++)
        {
            await FailAsync($"reply:burst:{i}");
        }

        var result = await Reconciler.RunOnceAsync(default);

        Assert.Equal(3, _chat.Sent.Count);
        Assert.Equal(45, _chat.Sent.Sum(m => m.Gaps.Count));
        Assert.Equal(45, result.Escalated);
        Assert.Equal(45, _chat.Sent.SelectMany(m => m.Gaps).Select(g => g.DraftId).Distinct().Count());
    }

    [Fact]
    public async Task RunOnceAsync_ChatUnreachable_EscalatedOnNextCycle()
    {
        await FailAsync("reply:retry-send");
        _chat.FailuresToInject = 1;

        await Reconciler.RunOnceAsync(default);
        Assert.Empty(_chat.Sent);
        await Reconciler.RunOnceAsync(default);

        Assert.Equal("reply:retry-send", Assert.Single(_chat.Sent).Gaps[0].DraftId);
    }

    /// <summary>
    /// The chat out of reach for hours (the bot removed from it, its token refused): every cycle tries again, but the log
    /// says so once at Error, then once an hour, and the gap's own line once, instead of an Error and a Warning a minute.
    /// </summary>
    [Fact]
    public async Task RunOnceAsync_ChatUnreachableForHours_ErrorOnceThenHourlyGapLoggedOnceAndRecoveryNoted()
    {
        await FailAsync("reply:long-outage");
        _chat.FailuresToInject = int.MaxValue;

        for (var minute = 0; minute < 150; minute++)
        {
            await Reconciler.RunOnceAsync(default);
            _clock.Advance(TimeSpan.FromMinutes(1));
        }
        _chat.FailuresToInject = 0;
        await Reconciler.RunOnceAsync(default);

        var reconciler = _logs.Entries.Where(e => e.Category == typeof(Reconciler).FullName).ToList();
        Assert.Equal("EscalationFailed", Assert.Single(reconciler, e => e.Level == LogLevel.Error).EventId.Name);
        var reminders = reconciler.Where(e => e.Level == LogLevel.Warning && e.EventId.Name == "EscalationsStillFailing").ToList();
        Assert.Equal([60, 120], reminders.Select(e => Convert.ToInt32(e.Properties["Minutes"], System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Single(reconciler, e => e.Level == LogLevel.Warning && e.Message.StartsWith("Gap stale/awaiting_human on reply:long-outage", StringComparison.Ordinal));
        Assert.Single(reconciler, e => e.Level == LogLevel.Information && e.Message.StartsWith("Escalations reach the chat again after 150", StringComparison.Ordinal));
        Assert.Equal("reply:long-outage", Assert.Single(_chat.Sent).Gaps[0].DraftId);
    }

    /// <summary>
    /// A gap delivered, then its reminder due while the chat is unreachable: the reminder is tried at every cycle, but its
    /// gap's line is logged once when found and once when the reminder is first tried, not at every retry (before, a Warning
    /// a minute for the whole outage).
    /// </summary>
    [Fact]
    public async Task RunOnceAsync_ReminderDueWhileTheChatIsUnreachable_GapLineNotLoggedAtEveryRetry()
    {
        await FailAsync("reply:remind-in-outage");
        await Reconciler.RunOnceAsync(default);
        _chat.FailuresToInject = int.MaxValue;
        _clock.Advance(TimeSpan.FromHours(2));

        for (var minute = 0; minute < 30; minute++)
        {
            await Reconciler.RunOnceAsync(default);
            _clock.Advance(TimeSpan.FromMinutes(1));
        }
        _chat.FailuresToInject = 0;
        var delivered = await Reconciler.RunOnceAsync(default);

        var lines = _logs.Entries.Where(e => e.Category == typeof(Reconciler).FullName && e.Message.StartsWith("Gap stale/awaiting_human on reply:remind-in-outage", StringComparison.Ordinal)).ToList();
        Assert.Equal([LogLevel.Warning, LogLevel.Warning], lines.Where(e => e.Level >= LogLevel.Information).Select(e => e.Level));
        Assert.Equal(1, delivered.Reminded);
        Assert.Equal(2, _chat.Sent.Count);
    }

    /// <summary>
    /// An escalation the chat takes in parts, the first taken and the second not: the failure names the gaps not
    /// delivered, not every gap of the escalation (the first part's are recorded as sent and not sent again).
    /// </summary>
    [Fact]
    public async Task RunOnceAsync_ALaterPartOfAnEscalationFails_TheFailureCountsOnlyTheGapsNotDelivered()
    {
        foreach (var id in new[] { "reply:part-a", "reply:part-b", "reply:part-c" })
        {
            await FailAsync(id);
        }
        _chat.FirstPartOnly = 2;

        var failed = await Reconciler.RunOnceAsync(default);
        var retried = await Reconciler.RunOnceAsync(default);

        var error = Assert.Single(_logs.Entries, e => e.Category == typeof(Reconciler).FullName && e.Level == LogLevel.Error);
        Assert.Equal("EscalationFailed", error.EventId.Name);
        Assert.Equal(1, Convert.ToInt32(error.Properties["Count"], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal((3, 1), (failed.Open, retried.Escalated));
        Assert.Equal([2, 1], _chat.Sent.Select(m => m.Gaps.Count));
    }

    /// <summary>
    /// A card that has not reached the chat in ten minutes is listed (card_waiting) but not sent to the chat, which is what
    /// holds it up; once the outbox gives it up, that is a gap of its own, escalated at once with its Retry.
    /// </summary>
    [Fact]
    public async Task RunOnceAsync_CardWaitingThenGivenUp_WaitingNotEscalatedGivingUpEscalatedWithRetry()
    {
        await DraftFixtures.SubmitAsync(_host.Store, "reply:slow-card");
        await _host.Store.TransitionAsync(new Transition("reply:slow-card", [DraftState.Pending], DraftState.Pending, "card_failed", "telegram")
        {
            Set = new Dictionary<string, object?> { ["card_attempts"] = 7, ["card_error"] = "502 Bad Gateway", ["card_next_at"] = _clock.GetUtcNow().AddMinutes(11) },
        });
        _clock.Advance(TimeSpan.FromMinutes(10));

        var waiting = await Reconciler.RunOnceAsync(default);
        await _host.Store.TransitionAsync(new Transition("reply:slow-card", [DraftState.Pending], DraftState.Pending, "card_failed", "telegram")
        {
            Set = new Dictionary<string, object?> { ["card_attempts"] = 8, ["card_error"] = "502 Bad Gateway (gave up after 8 attempts)", ["card_next_at"] = null },
        });
        var givenUp = await Reconciler.RunOnceAsync(default);

        Assert.Contains(_host.Services.GetRequiredService<GapFinder>().Find(Gaps.Orphans), g => g.Name == Gaps.CardUndelivered);
        Assert.Equal((0, 0), (waiting.Open, waiting.Messages));
        Assert.Equal((1, 1), (givenUp.Escalated, givenUp.Messages));
        var gap = Assert.Single(Assert.Single(_chat.Sent).Gaps);
        Assert.Equal("orphans/card_undelivered", gap.Gap);
        Assert.Contains(ApproverAction.Retry, gap.Actions);
    }

    /// <summary>
    /// The chat takes an escalation but the store will not record it. "statement": the write is refused (a SqliteException,
    /// that write alone undone); "commit": the commit is refused, as on a full or read-only disk (StoreUnavailableException).
    /// Either way each later cycle used to post it again as a first escalation; now only the record is tried again, and once
    /// it is taken the gap is reminded on its schedule, counted from when the chat got it.
    /// </summary>
    [Theory]
    [InlineData("statement")]
    [InlineData("commit")]
    public async Task RunOnceAsync_StoreRefusesToRecordADeliveredEscalation_NotPostedAgainRecordedLateThenReminded(string refused)
    {
        const string id = "reply:unrecorded-escalation";
        await using var h = await TelegramHarness.StartAsync(
            ["ApprovalBot:Reconciliation:RemindEvery=02:00:00"],
            services: s =>
            {
                s.AddSingleton<ILoggerProvider>(_logs);
                s.AddLogging(b => b.AddFilter<CapturedLogs>(null, LogLevel.Debug));
                s.UseClock<Reconciler>(_clock);
            },
            compose: b => b.AddReconciliation());
        await HeldCycle.SettledAsync(h.Host.Services, TelegramHarness.Wait);
        await h.SubmitCardedAsync(id, "text");
        await DraftFixtures.MoveAsync(h.Host.Store, id, DraftState.Carded, DraftState.Approved, new Dictionary<string, object?> { ["decision"] = "approved" });
        await DraftFixtures.MoveAsync(h.Host.Store, id, DraftState.Approved, DraftState.Executing);
        await DraftFixtures.MoveAsync(h.Host.Store, id, DraftState.Executing, DraftState.Failed, new Dictionary<string, object?> { ["exec_error"] = "boom" });
        h.ExecuteOnDatabase(refused == "statement"
            ? "CREATE TRIGGER test_refuse_sent BEFORE UPDATE OF last_sent ON escalations WHEN NEW.last_sent IS NOT NULL " +
              "BEGIN SELECT RAISE(ABORT, 'test: the store refuses to record the escalation'); END;"
            // A deferred foreign key checked at COMMIT, which then fails: the writer drops the batch, as when the disk is full.
            : "CREATE TABLE test_parent(id INTEGER PRIMARY KEY); " +
              "CREATE TABLE test_refused(parent INTEGER REFERENCES test_parent(id) DEFERRABLE INITIALLY DEFERRED); " +
              "CREATE TRIGGER test_refuse_sent AFTER UPDATE OF last_sent ON escalations WHEN NEW.last_sent IS NOT NULL " +
              "BEGIN INSERT INTO test_refused VALUES (1); END;");
        var reconciler = h.Host.Services.GetRequiredService<Reconciler>();
        List<SentMessage> Escalations() =>
            [.. h.Control.GetMessages(h.ChatId).Where(m => m.Text is { } t && t.StartsWith("🚨", StringComparison.Ordinal) && t.Contains(id, StringComparison.Ordinal))];

        // Cycles as the reconcile job runs them: one that fails is left to the next.
        for (var cycle = 0; cycle < 3; cycle++)
        {
            await Record.ExceptionAsync(() => reconciler.RunOnceAsync(default));
            _clock.Advance(TimeSpan.FromMinutes(1));
        }

        // Before, one copy in the chat per cycle.
        var posted = Escalations().Count;
        Assert.Equal(1, posted);
        var warning = Assert.Single(_logs.Entries, e => e.Category == typeof(Reconciler).FullName && e.EventId.Name == "EscalationNotRecorded");
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Equal(id, warning.Properties["DraftId"]);

        h.ExecuteOnDatabase("DROP TRIGGER test_refuse_sent;");
        var recorded = await reconciler.RunOnceAsync(default);
        _clock.Advance(TimeSpan.FromMinutes(116));
        var notYet = await reconciler.RunOnceAsync(default);
        _clock.Advance(TimeSpan.FromMinutes(1));
        var reminded = await reconciler.RunOnceAsync(default);

        Assert.Equal((0, 0, 0), (recorded.Escalated, recorded.Reminded, recorded.Messages));
        var late = Assert.Single(_logs.Entries, e => e.Category == typeof(Reconciler).FullName && e.EventId.Name == "EscalationRecordedLate");
        Assert.Equal((LogLevel.Information, id), (late.Level, late.Properties["DraftId"]));
        Assert.Equal(0, notYet.Messages);
        Assert.Equal((0, 1, 1), (reminded.Escalated, reminded.Reminded, reminded.Messages));
        Assert.Equal(2, Escalations().Count);
        Assert.StartsWith("🚨 Reminder", Escalations()[1].Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunOnceAsync_FirstSendFailed_NextCycleSendsFirstEscalationNotReminder()
    {
        await FailAsync("reply:never-seen");
        _chat.FailuresToInject = 1;

        var failed = await Reconciler.RunOnceAsync(default);
        var delivered = await Reconciler.RunOnceAsync(default);
        _clock.Advance(TimeSpan.FromMinutes(121));
        await Reconciler.RunOnceAsync(default);

        // The approver never saw the first try: what arrives first is an escalation, and only then a reminder.
        Assert.Equal((1, 0, 0), (failed.Escalated, failed.Reminded, failed.Messages));
        Assert.Equal((1, 0, 1), (delivered.Escalated, delivered.Reminded, delivered.Messages));
        Assert.Equal(2, _chat.Sent.Count);
        Assert.False(_chat.Sent[0].Gaps[0].Reminder);
        Assert.DoesNotContain("Reminder", _chat.Sent[0].Title, StringComparison.Ordinal);
        Assert.True(_chat.Sent[1].Gaps[0].Reminder);
        Assert.StartsWith("Reminder", _chat.Sent[1].Title, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunOnceAsync_GapResolvedThenReturns_EscalatedAgainAsNew()
    {
        await FailAsync("reply:back");
        await Reconciler.RunOnceAsync(default);
        await _host.Services.GetRequiredService<ApproverActions>().RetryAsync("reply:back", "user:1001");

        var resolved = await Reconciler.RunOnceAsync(default);
        await DraftFixtures.MoveAsync(_host.Store, "reply:back", DraftState.Approved, DraftState.Executing);
        await DraftFixtures.MoveAsync(_host.Store, "reply:back", DraftState.Executing, DraftState.Failed);
        await Reconciler.RunOnceAsync(default);

        Assert.Equal(1, resolved.Resolved);
        Assert.Equal(2, _chat.Sent.Count);
        Assert.False(_chat.Sent[1].Gaps[0].Reminder);
        // Each escalation names the failure it reports (its Retry is bound to it), apart even under a stopped clock.
        Assert.Equal(_host.Store.Get("reply:back")!.StateSince, _chat.Sent[1].Gaps[0].StateSince);
        Assert.NotNull(_chat.Sent[0].Gaps[0].StateSince);
        Assert.True(_chat.Sent[0].Gaps[0].StateSince < _chat.Sent[1].Gaps[0].StateSince);
    }

    [Fact]
    public async Task RunOnceAsync_RetriedAndFailedAgainBetweenTwoCycles_NewFailureEscalatedAsNew()
    {
        await FailAsync("reply:quick");
        await Reconciler.RunOnceAsync(default);
        await _host.Services.GetRequiredService<ApproverActions>().RetryAsync("reply:quick", "user:1001");

        // No cycle in between (a pull agent's claim and fail, a route failing at once): the gap never looked closed.
        await DraftFixtures.MoveAsync(_host.Store, "reply:quick", DraftState.Approved, DraftState.Executing);
        await DraftFixtures.MoveAsync(_host.Store, "reply:quick", DraftState.Executing, DraftState.Failed);
        var cycle = await Reconciler.RunOnceAsync(default);

        // Before the fix nothing was sent until RemindEvery, while the first message's Retry answered "a later outcome than
        // this message reports. Act on its latest escalation": there was none.
        Assert.Equal((1, 1), (cycle.Escalated, cycle.Resolved));
        Assert.Equal(2, _chat.Sent.Count);
        Assert.False(_chat.Sent[1].Gaps[0].Reminder);
        Assert.Equal(_host.Store.Get("reply:quick")!.StateSince, _chat.Sent[1].Gaps[0].StateSince);
        Assert.True(_chat.Sent[0].Gaps[0].StateSince < _chat.Sent[1].Gaps[0].StateSince);

        // Then reminded on schedule like any gap, not escalated anew every cycle.
        await Reconciler.RunOnceAsync(default);
        Assert.Equal(2, _chat.Sent.Count);
    }

    /// <summary>
    /// A card the outbox gave up on, escalated; the approver taps Retry and the card is given up on again before the next
    /// cycle: the new failure is escalated as new at once (before, the draft's one key made it a reminder, RemindEvery later).
    /// </summary>
    [Fact]
    public async Task RunOnceAsync_CardRetriedAndGivenUpOnAgainBetweenTwoCycles_NewFailureEscalatedAsNew()
    {
        await DraftFixtures.SubmitAsync(_host.Store, "reply:card-again");
        await GiveUpCardAsync("reply:card-again", "400 Bad Request: chat not found");
        await Reconciler.RunOnceAsync(default);
        var retried = await _host.Services.GetRequiredService<ApproverActions>().RetryAsync("reply:card-again", "user:1001");
        await GiveUpCardAsync("reply:card-again", "400 Bad Request: chat not found");

        var cycle = await Reconciler.RunOnceAsync(default);
        var next = await Reconciler.RunOnceAsync(default);

        Assert.True(retried.Applied);
        Assert.Equal((1, 1), (cycle.Escalated, cycle.Resolved));
        Assert.Equal(2, _chat.Sent.Count);
        Assert.False(_chat.Sent[1].Gaps[0].Reminder);
        Assert.Equal(0, next.Escalated + next.Reminded);
    }

    private Task GiveUpCardAsync(string id, string error) =>
        _host.Store.TransitionAsync(new Transition(id, [DraftState.Pending], DraftState.Pending, "card_failed", "telegram")
        {
            Set = new Dictionary<string, object?> { ["card_attempts"] = 1, ["card_error"] = error, ["card_next_at"] = null },
        });

    [Fact]
    public async Task RunOnceAsync_OpenEscalationOfAStoreUpgradedFromSchema8_NotSentAgain()
    {
        await FailAsync("reply:upgraded");
        // The cycle comes later than the failure, as it does on a running clock (a frozen one would send within its millisecond).
        _clock.Advance(TimeSpan.FromSeconds(1));
        await Reconciler.RunOnceAsync(default);
        // The escalation as a build before schema 9 recorded it, under the draft's key alone; then this build's upgrade.
        DraftFixtures.UpgradeFrom(_host.DataDirectory, 8, "UPDATE escalations SET gap_key = 'stale:awaiting_human:reply:upgraded' WHERE draft_id = 'reply:upgraded';");

        var cycle = await Reconciler.RunOnceAsync(default);

        Assert.Equal((0, 0), (cycle.Escalated, cycle.Resolved));
        Assert.Single(_chat.Sent);
    }

    /// <summary>The approved pull draft claimed once more, and its lease left to expire again.</summary>
    private async Task LeaseExpiresAgainAsync(string id)
    {
        var route = new ApprovalBot.Execution.Routes.ExecutorRouteOptions { Type = "pull", MaxAttempts = 5, Idempotent = true };
        var begin = await _host.Store.WriteAsync(ctx => ApprovalBot.Execution.ExecutionLedger.Begin(ctx, id, "pull:pulled", route, TimeSpan.FromSeconds(60), "claim"));
        _clock.Advance(TimeSpan.FromSeconds(61));
        await _host.Store.WriteAsync(ctx => ApprovalBot.Execution.ExecutionLedger.Recover(ctx, id, begin.Lease, route, "the pull lease expired", "lease_expired"));
    }

    [Fact]
    public async Task RunOnceAsync_LeaseExpiresAgainAfterItsGapWasEscalated_NotEscalatedAgainButRemindedAsOne()
    {
        await DraftFixtures.ClaimedThenLeaseExpiredAsync(_host.Store, _clock, "pulled:again", "pulled", maxAttempts: 5);
        var first = await Reconciler.RunOnceAsync(default);

        await LeaseExpiresAgainAsync("pulled:again");
        var second = await Reconciler.RunOnceAsync(default);
        _clock.Advance(TimeSpan.FromMinutes(121));
        var reminded = await Reconciler.RunOnceAsync(default);

        Assert.Equal((1, 1), (first.Open, first.Escalated));
        // Before, each expiry was a gap of its own: the second one escalated anew, and both were reminded, as two.
        Assert.Equal((1, 0, 0), (second.Open, second.Escalated, second.Messages));
        var sent = _chat.Sent.SelectMany(m => m.Gaps).Where(g => g.Gap == "orphans/lease_expired").ToList();
        Assert.Equal([("pulled:again", false), ("pulled:again", true)], sent.Select(g => (g.DraftId, g.Reminder)));
        Assert.Contains("expired 2 times", sent[1].Detail, StringComparison.Ordinal);
        Assert.Equal(1, reminded.Reminded);
    }

    [Fact]
    public async Task RunOnceAsync_LeaseExpiryEscalationsOfAStoreUpgradedFromSchema9_NotSentAgain()
    {
        await DraftFixtures.ClaimedThenLeaseExpiredAsync(_host.Store, _clock, "pulled:upgraded", "pulled", maxAttempts: 5);
        await LeaseExpiresAgainAsync("pulled:upgraded");
        _clock.Advance(TimeSpan.FromSeconds(1));
        await Reconciler.RunOnceAsync(default);
        // The escalations as a build before schema 10 recorded them: one per expiry, under its event's id; both sent.
        var expiries = _host.Store.Events("pulled:upgraded").Where(e => e.Type == "lease_expired").Select(e => e.Id).ToList();
        DraftFixtures.UpgradeFrom(_host.DataDirectory, 9, $"""
            UPDATE escalations SET gap_key = 'orphans:lease_expired:{expiries[0]}' WHERE draft_id = 'pulled:upgraded';
            INSERT INTO escalations(gap_key, report, gap, draft_id, first_seen, last_sent, sent_count)
                SELECT 'orphans:lease_expired:{expiries[1]}', report, gap, draft_id, first_seen, last_sent, 1 FROM escalations WHERE draft_id = 'pulled:upgraded';
            """);

        var cycle = await Reconciler.RunOnceAsync(default);

        Assert.Equal((1, 0, 0), (cycle.Open, cycle.Escalated, cycle.Resolved));
        Assert.Single(_chat.Sent);
    }

    [Fact]
    public async Task RunOnceAsync_FreshLeaseExpiryBehindThousandOfExecutedDrafts_Escalated()
    {
        DraftFixtures.BulkEvents(_host.DataDirectory, "lease_expired", 1000, _clock.GetUtcNow(), "executed", "pulled");
        await DraftFixtures.ClaimedThenLeaseExpiredAsync(_host.Store, _clock, "pulled:fresh", "pulled", maxAttempts: 3);

        var cycle = await Reconciler.RunOnceAsync(default);

        Assert.Equal((1, 1), (cycle.Open, cycle.Escalated));
        var gap = Assert.Single(Assert.Single(_chat.Sent).Gaps);
        Assert.Equal(("orphans/lease_expired", "pulled:fresh"), (gap.Gap, gap.DraftId));
    }

    [Fact]
    public async Task RunOnceAsync_NoGaps_SendsNothing()
    {
        await DraftFixtures.SubmitAsync(_host.Store, "reply:fine");

        var result = await Reconciler.RunOnceAsync(default);

        Assert.Empty(_chat.Sent);
        Assert.Equal(0, result.Open);
    }

    [Fact]
    public async Task RunOnceAsync_EscalatedGapPushedPastLimit_StaysOpenAndIsNotEscalatedAgain()
    {
        var reconciler = WithLimit(2);
        await FailAsync("reply:a");
        await FailAsync("reply:b");
        await reconciler.RunOnceAsync(default);
        // A draft that failed earlier than both comes first in the report: reply:b is past the limit, and still failed.
        DraftFixtures.BulkDrafts(_host.DataDirectory, "reply:earlier", "reply", "failed", 1, _clock.GetUtcNow().AddHours(-1), "exec_error = 'boom'");

        var capped = await reconciler.RunOnceAsync(default);
        DraftFixtures.Sql(_host.DataDirectory, "UPDATE drafts SET state = 'cancelled' WHERE id = 'reply:earlier:1'");
        var fits = await reconciler.RunOnceAsync(default);

        Assert.Equal((0, 2), (capped.Resolved, capped.Escalated));
        var second = _chat.Sent[1].Gaps;
        Assert.Equal(["reply:earlier:1", null], second.Select(g => g.DraftId));
        Assert.Equal("stale/awaiting_human", second[1].Gap);
        Assert.StartsWith("1 more awaiting_human not listed", second[1].Detail, StringComparison.Ordinal);
        // reply:earlier:1 and the "more" gap close; reply:b, delivered less than RemindEvery ago, is not sent again.
        Assert.Equal((2, 0, 0), (fits.Resolved, fits.Escalated, fits.Messages));
        Assert.Equal(2, _chat.Sent.Count);
    }

    [Fact]
    public async Task RunOnceAsync_ClassOverLimit_MoreGapEscalatedOnceRemindedWithItsCountClosedOnceTheClassFits()
    {
        var reconciler = WithLimit(2);
        for (var i = 1; i <= 4; i++)
        {
            await FailAsync($"reply:m{i}");
        }

        var first = await reconciler.RunOnceAsync(default);
        await FailAsync("reply:m5");
        var quiet = await reconciler.RunOnceAsync(default);
        _clock.Advance(TimeSpan.FromMinutes(121));
        var reminded = await reconciler.RunOnceAsync(default);
        foreach (var id in new[] { "reply:m1", "reply:m2", "reply:m5" })
        {
            await DraftFixtures.MoveAsync(_host.Store, id, DraftState.Failed, DraftState.Cancelled);
        }
        var fits = await reconciler.RunOnceAsync(default);

        Assert.Equal((3, 1), (first.Escalated, first.Messages));
        Assert.Equal(["reply:m1", "reply:m2", null], _chat.Sent[0].Gaps.Select(g => g.DraftId));
        Assert.StartsWith("2 more awaiting_human not listed", _chat.Sent[0].Gaps[2].Detail, StringComparison.Ordinal);
        // One more failed draft changes the count, not what is due: the approver is not messaged for it.
        Assert.Equal((0, 0, 0), (quiet.Escalated, quiet.Reminded, quiet.Messages));
        Assert.Equal((0, 3), (reminded.Escalated, reminded.Reminded));
        Assert.All(_chat.Sent[1].Gaps, g => Assert.True(g.Reminder));
        Assert.StartsWith("3 more awaiting_human not listed", _chat.Sent[1].Gaps[2].Detail, StringComparison.Ordinal);
        // m1, m2 and the "more" gap close; m3 and m4, listed now, are escalated for the first time.
        Assert.Equal((3, 2), (fits.Resolved, fits.Escalated));
        Assert.Equal(["reply:m3", "reply:m4"], _chat.Sent[2].Gaps.Select(g => g.DraftId));
        Assert.Equal(3, _chat.Sent.Count);
    }
}
