using ApprovalBot.Drafts;
using ApprovalBot.Execution;
using ApprovalBot.Execution.Routes;
using ApprovalBot.Reconciliation;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalBot.Tests.Reconciliation;

public sealed class GapFinderTests : IAsyncLifetime
{
    private readonly ManualTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private TestHost _host = null!;

    public async Task InitializeAsync() => _host = await TestHost.StartAsync(
        [
            "ApprovalBot:Kinds:reply:StaleAfter=01:00:00",
            "ApprovalBot:Kinds:reply:StuckAfter=00:30:00",
            "ApprovalBot:Kinds:pulled:MaxLength=100",
            "ApprovalBot:Kinds:pulled:StuckAfter=00:10:00",
            "ApprovalBot:Kinds:pulled:Executor:Type=pull",
            "ApprovalBot:Kinds:pulled:Executor:Idempotent=true",
            "ApprovalBot:Kinds:posted:StuckAfter=00:30:00",
            "ApprovalBot:Kinds:posted:Executor:Type=command",
            "ApprovalBot:Kinds:posted:Executor:Command:0=/bin/true",
        ],
        services: s => s.AddSingleton<TimeProvider>(_clock),
        compose: b => b.AddReconciliation());

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private GapFinder Finder => _host.Services.GetRequiredService<GapFinder>();

    /// <summary>Small enough that a test goes past it with a handful of drafts.</summary>
    private const int SmallLimit = 3;

    private GapFinder FinderWithLimit(int limit) => ActivatorUtilities.CreateInstance<GapFinder>(_host.Services, limit);

    private DraftStore Store => _host.Store;

    [Fact]
    public async Task Find_ApprovalWhoseTextVanished_OrphanTextMissing()
    {
        await DraftFixtures.ApproveAsync(Store, "reply:gone", "words");
        DraftFixtures.Sql(_host.DataDirectory, "UPDATE drafts SET text = NULL WHERE id = 'reply:gone'");

        var gap = Assert.Single(Finder.Find(Gaps.Orphans));

        Assert.Equal((Gaps.TextMissing, "reply:gone"), (gap.Name, gap.DraftId));
        Assert.Equal([ApproverAction.Discard], gap.Actions);
    }

    [Fact]
    public async Task Find_TextVanishedWhileExecuting_OrphanTextMissingWithoutADiscardThatCouldNotWork()
    {
        await DraftFixtures.ApproveAsync(Store, "reply:gone-running", "words");
        await DraftFixtures.MoveAsync(Store, "reply:gone-running", DraftState.Approved, DraftState.Executing);
        DraftFixtures.Sql(_host.DataDirectory, "UPDATE drafts SET text = NULL WHERE id = 'reply:gone-running'");

        var gap = Assert.Single(Finder.Find(Gaps.Orphans));

        Assert.Equal((Gaps.TextMissing, "reply:gone-running"), (gap.Name, gap.DraftId));
        Assert.Empty(gap.Actions);
    }

    /// <summary>
    /// A draft awaiting a decision whose text went missing from the store (edited behind the service's back) can only be
    /// rejected: /orphans reports it at once, with a fresh card (which offers Reject only) for a carded one and Discard for
    /// one with no card yet. Before, nothing reported it until an approver tapped Approve (an orphan callback) or it was
    /// stale a day later, as any draft awaiting a decision.
    /// </summary>
    [Fact]
    public async Task Find_UndecidedDraftWhoseTextVanished_OrphanTextMissingAtOnce()
    {
        await DraftFixtures.SubmitAsync(Store, "reply:gone-pending", "words");
        await DraftFixtures.SubmitAsync(Store, "reply:gone-carded", "words");
        await DraftFixtures.MoveAsync(Store, "reply:gone-carded", DraftState.Pending, DraftState.Carded,
            new Dictionary<string, object?> { ["card_chat_id"] = 1001L, ["card_message_id"] = 5L });
        await DraftFixtures.SubmitAsync(Store, "reply:kept", "words");
        DraftFixtures.Sql(_host.DataDirectory, "UPDATE drafts SET text = NULL WHERE id IN ('reply:gone-pending', 'reply:gone-carded')");

        var gaps = Finder.Find(Gaps.Orphans).ToDictionary(g => g.DraftId!);

        Assert.Equal(["reply:gone-carded", "reply:gone-pending"], gaps.Keys.Order(StringComparer.Ordinal));
        Assert.Equal((Gaps.TextMissing, "pending", "orphans:text_missing:reply:gone-pending"),
            (gaps["reply:gone-pending"].Name, gaps["reply:gone-pending"].State, gaps["reply:gone-pending"].Key));
        Assert.Equal([ApproverAction.Discard], gaps["reply:gone-pending"].Actions);
        Assert.Equal((Gaps.TextMissing, "carded"), (gaps["reply:gone-carded"].Name, gaps["reply:gone-carded"].State));
        Assert.Equal([ApproverAction.ResendCard], gaps["reply:gone-carded"].Actions);
        Assert.Equal("draft awaiting a decision whose text is missing from the store (it cannot be approved, only rejected); stored sha256 " +
            Sha.Hex("words"), gaps["reply:gone-carded"].Detail);
    }

    [Fact]
    public async Task Find_ApprovalWhoseTextChanged_OrphanTextChangedNamingBothHashes()
    {
        await DraftFixtures.ApproveAsync(Store, "reply:edited", "approved words");
        DraftFixtures.Sql(_host.DataDirectory, "UPDATE drafts SET text = 'other words' WHERE id = 'reply:edited'");

        var gap = Assert.Single(Finder.Find(Gaps.Orphans));

        Assert.Equal(Gaps.TextChanged, gap.Name);
        Assert.Contains(Sha.Hex("approved words"), gap.Detail, StringComparison.Ordinal);
        Assert.Contains(Sha.Hex("other words"), gap.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Find_BlockedDraft_Orphan()
    {
        await DraftFixtures.ApproveAsync(Store, "reply:blocked");
        await DraftFixtures.MoveAsync(Store, "reply:blocked", DraftState.Approved, DraftState.Blocked);

        Assert.Equal("reply:blocked", Assert.Single(Finder.Find(Gaps.Orphans)).DraftId);
    }

    [Fact]
    public async Task Find_CardThatCouldNotBeDelivered_OrphanCardUndelivered()
    {
        await DraftFixtures.SubmitAsync(Store, "reply:nocard");
        await Store.TransitionAsync(new Transition("reply:nocard", [DraftState.Pending], DraftState.Pending, "card_failed", "telegram")
        {
            Set = new Dictionary<string, object?> { ["card_attempts"] = 5, ["card_error"] = "Bad Request: chat not found" },
        });

        var gap = Assert.Single(Finder.Find(Gaps.Orphans));

        Assert.Equal(Gaps.CardUndelivered, gap.Name);
        Assert.Contains("chat not found", gap.Detail, StringComparison.Ordinal);
        Assert.Equal([ApproverAction.Retry, ApproverAction.Discard], gap.Actions);
    }

    /// <summary>
    /// A card sent with answers that could not be read (card_unconfirmed): carded with no message on record. It is most likely
    /// in the chat, so it is no card_undelivered, but the outcome has no card to be shown on: an orphan offering Resend card,
    /// whose detail is the draft's card_error. A carded draft with its card on record is none.
    /// </summary>
    [Fact]
    public async Task Find_CardSentUnconfirmed_OrphanCardUnconfirmedWithResendCard()
    {
        const string error = "HTTP 200 without a readable Bot API answer: the card is most likely in chat 1001 (sent 2 times with an answer that could not be read)";
        await DraftFixtures.SubmitAsync(Store, "reply:unconfirmed");
        await DraftFixtures.SubmitAsync(Store, "reply:carded");
        await Store.TransitionAsync(new Transition("reply:unconfirmed", [DraftState.Pending], DraftState.Carded, "card_unconfirmed", "telegram")
        {
            Set = new Dictionary<string, object?> { ["card_chat_id"] = 1001L, ["card_attempts"] = 2, ["card_error"] = error },
        });
        await Store.TransitionAsync(new Transition("reply:carded", [DraftState.Pending], DraftState.Carded, "card_sent", "telegram")
        {
            Set = new Dictionary<string, object?> { ["card_chat_id"] = 1001L, ["card_message_id"] = 7L },
        });

        var gap = Assert.Single(Finder.Find(Gaps.Orphans));

        Assert.Equal((Gaps.CardUnconfirmed, "reply:unconfirmed"), (gap.Name, gap.DraftId));
        Assert.Equal("card sent unconfirmed: " + error, gap.Detail);
        Assert.Equal([ApproverAction.ResendCard], gap.Actions);
    }

    /// <summary>
    /// A card the outbox keeps trying and never gives up (the chat refuses the bot, or Telegram the token): after ten minutes
    /// without a card it is a gap too, so `approvalctl orphans` does not answer "No orphans." while every card waits.
    /// </summary>
    [Fact]
    public async Task Find_CardStillTriedTenMinutesAfterSubmission_OrphanCardWaiting()
    {
        const string error = "403 Forbidden: bot was blocked by the user (chat 1001 refuses the bot; the card waits until the bot may post there again)";
        await DraftFixtures.SubmitAsync(Store, "reply:refused");
        await Store.TransitionAsync(new Transition("reply:refused", [DraftState.Pending], DraftState.Pending, "card_failed", "telegram")
        {
            Set = new Dictionary<string, object?> { ["card_error"] = error, ["card_next_at"] = _clock.GetUtcNow().AddSeconds(60) },
        });

        _clock.Advance(TimeSpan.FromMinutes(10) - TimeSpan.FromSeconds(1));
        var early = Finder.Find(Gaps.Orphans);
        _clock.Advance(TimeSpan.FromSeconds(1));
        var gap = Assert.Single(Finder.Find(Gaps.Orphans));

        Assert.Empty(early);
        Assert.Equal((Gaps.CardWaiting, "reply:refused"), (gap.Name, gap.DraftId));
        Assert.Equal($"no card for 10m, still tried: {error}", gap.Detail);
    }

    /// <summary>While the chat refuses the bot the outbox tries one card per sweep: the drafts behind it have no card_error of their own.</summary>
    [Fact]
    public async Task Find_DraftNeverTriedTenMinutesAfterSubmission_OrphanCardWaitingNotTriedYet()
    {
        await DraftFixtures.SubmitAsync(Store, "reply:behind");

        _clock.Advance(TimeSpan.FromMinutes(12));
        var gap = Assert.Single(Finder.Find(Gaps.Orphans));

        Assert.Equal((Gaps.CardWaiting, "reply:behind"), (gap.Name, gap.DraftId));
        Assert.Equal("no card for 12m, not tried yet (the card outbox is held up; its log says why)", gap.Detail);
    }

    /// <summary>Within its first ten minutes a card that waits out a 429 or a 5xx is no gap: it goes out, or is given up.</summary>
    [Fact]
    public async Task Find_CardWaitingOutTransientError_NotReported()
    {
        await DraftFixtures.SubmitAsync(Store, "reply:429");
        await Store.TransitionAsync(new Transition("reply:429", [DraftState.Pending], DraftState.Pending, "card_failed", "telegram")
        {
            Set = new Dictionary<string, object?> { ["card_attempts"] = 1, ["card_error"] = "429 Too Many Requests", ["card_next_at"] = _clock.GetUtcNow().AddSeconds(30) },
        });

        Assert.Empty(Finder.Find(Gaps.Orphans));
    }

    [Fact]
    public async Task Find_BlockedForMissingDecision_NamedFromRecordedReason()
    {
        await DraftFixtures.ApproveAsync(Store, "reply:nodecision", "words");
        DraftFixtures.Sql(_host.DataDirectory, "UPDATE drafts SET decision_sha256 = NULL WHERE id = 'reply:nodecision'");
        await BlockAsync("reply:nodecision");

        var gap = Assert.Single(Finder.Find(Gaps.Orphans));

        Assert.Equal((Gaps.DecisionMissing, "reply:nodecision"), (gap.Name, gap.DraftId));
        Assert.Contains("decision_missing", gap.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("?", gap.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Find_BlockedForChangedOrMissingText_NamedFromRecordedReason()
    {
        await DraftFixtures.ApproveAsync(Store, "reply:b-changed", "approved words");
        DraftFixtures.Sql(_host.DataDirectory, "UPDATE drafts SET text = 'other words' WHERE id = 'reply:b-changed'");
        await BlockAsync("reply:b-changed");
        await DraftFixtures.ApproveAsync(Store, "reply:b-missing", "gone words");
        DraftFixtures.Sql(_host.DataDirectory, "UPDATE drafts SET text = NULL WHERE id = 'reply:b-missing'");
        await BlockAsync("reply:b-missing");

        var gaps = Finder.Find(Gaps.Orphans).ToDictionary(g => g.DraftId!);

        Assert.Equal(Gaps.TextChanged, gaps["reply:b-changed"].Name);
        Assert.Contains(Sha.Hex("other words"), gaps["reply:b-changed"].Detail, StringComparison.Ordinal);
        Assert.Equal(Gaps.TextMissing, gaps["reply:b-missing"].Name);
        Assert.Contains(Sha.Hex("gone words"), gaps["reply:b-missing"].Detail, StringComparison.Ordinal);
    }

    private Task ClaimedThenLeaseExpiredAsync(string id, int maxAttempts) =>
        DraftFixtures.ClaimedThenLeaseExpiredAsync(Store, _clock, id, "pulled", maxAttempts);

    private void Filler(string type, int count, string? state = null, string kind = "pulled") =>
        DraftFixtures.BulkEvents(_host.DataDirectory, type, count, _clock.GetUtcNow(), state, kind);

    /// <summary>The approved draft claimed once more, and its lease left to expire again.</summary>
    private async Task LeaseExpiresAgainAsync(string id)
    {
        var route = new ExecutorRouteOptions { Type = "pull", MaxAttempts = 5, Idempotent = true };
        var begin = await Store.WriteAsync(ctx => ExecutionLedger.Begin(ctx, id, "pull:pulled", route, TimeSpan.FromSeconds(60), "claim"));
        Assert.NotNull(begin.Started);
        _clock.Advance(TimeSpan.FromSeconds(61));
        await Store.WriteAsync(ctx => ExecutionLedger.Recover(ctx, id, begin.Lease, route, "the pull lease expired", AttemptEvents.LeaseExpired));
    }

    [Fact]
    public async Task Find_LeaseExpiredThreeTimes_OneGapForTheDraftSinceTheFirst()
    {
        await ClaimedThenLeaseExpiredAsync("pulled:thrice", maxAttempts: 5);
        var first = DateTimeOffset.FromUnixTimeMilliseconds(_clock.GetUtcNow().ToUnixTimeMilliseconds());
        await LeaseExpiresAgainAsync("pulled:thrice");
        await LeaseExpiresAgainAsync("pulled:thrice");
        await ClaimedThenLeaseExpiredAsync("pulled:once", maxAttempts: 5);

        var gaps = Finder.Find(Gaps.Orphans);

        Assert.Equal(["pulled:thrice", "pulled:once"], gaps.Select(g => g.DraftId));
        var thrice = gaps[0];
        Assert.Equal(("orphans:lease_expired:pulled:thrice", first), (thrice.Key, thrice.Since));
        Assert.EndsWith($"(its lease expired 3 times in the window, the last at {DateTimeOffset.FromUnixTimeMilliseconds(_clock.GetUtcNow().AddSeconds(-61).ToUnixTimeMilliseconds()):O})", thrice.Detail, StringComparison.Ordinal);
        Assert.Equal("orphans:lease_expired:pulled:once", gaps[1].Key);
        Assert.EndsWith("the draft went back to the queue", gaps[1].Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Find_PullLeaseExpired_OrphanLeaseExpired()
    {
        await ClaimedThenLeaseExpiredAsync("pulled:lease", maxAttempts: 3);

        var gap = Assert.Single(Finder.Find(Gaps.Orphans));

        Assert.Equal((Gaps.LeaseExpired, "pulled:lease", "approved"), (gap.Name, gap.DraftId, gap.State));
        Assert.Contains("lease expired", gap.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Find_PullLeaseExpiredOnLastAttempt_OnlyAwaitingHuman()
    {
        await ClaimedThenLeaseExpiredAsync("pulled:last", maxAttempts: 1);

        // One draft, one escalation: failed after its lease is /stale's awaiting_human, not an orphan as well.
        var gap = Assert.Single(Finder.All());
        Assert.Equal((Gaps.AwaitingHuman, "failed"), (gap.Name, gap.State));
    }

    [Fact]
    public async Task Find_DismissedOrphanCallback_NotReportedAgain()
    {
        await Store.AppendEventAsync(null, "orphan_callback", "telegram:1001", """{"data":"a:999:deadbeef"}""");
        await Store.AppendEventAsync(null, "orphan_callback", "telegram:1001", """{"data":"a:998:deadbeef"}""");
        var gaps = Finder.Find(Gaps.Orphans);
        var dismissals = _host.Services.GetRequiredService<GapDismissals>();

        Assert.True(await dismissals.DismissAsync(gaps[0].EventId!.Value, "telegram:1001"));
        Assert.False(await dismissals.DismissAsync(gaps[0].EventId!.Value, "telegram:1001"));

        Assert.All(gaps, g => Assert.Equal([ApproverAction.Dismiss], g.Actions));
        var left = Assert.Single(Finder.Find(Gaps.Orphans));
        Assert.Equal(gaps[1].EventId, left.EventId);
        Assert.Single(Store.EventsOfType(GapDismissals.EventType));
    }

    private async Task BlockAsync(string id)
    {
        var route = new ExecutorRouteOptions { Type = "command", Command = ["/bin/true"] };
        var begin = await Store.WriteAsync(ctx => ExecutionLedger.Begin(ctx, id, "executor:command", route, TimeSpan.FromMinutes(1), "execute"));
        Assert.NotNull(begin.Blocked);
    }

    [Fact]
    public async Task Find_KindWithoutRoute_OrphanOnlyAfterStuckAfter()
    {
        await DraftFixtures.ApproveAsync(Store, "reply:noroute");

        Assert.Empty(Finder.Find(Gaps.Orphans));
        _clock.Advance(TimeSpan.FromMinutes(31));

        var gap = Assert.Single(Finder.Find(Gaps.Orphans));
        Assert.Equal((Gaps.NoRoute, "reply:noroute"), (gap.Name, gap.DraftId));
    }

    [Fact]
    public async Task Find_PullRouteNotClaimed_OrphanOnlyAfterStuckAfter()
    {
        await DraftFixtures.ApproveAsync(Store, "pulled:1", kind: "pulled");
        _clock.Advance(TimeSpan.FromMinutes(9));
        Assert.Empty(Finder.Find(Gaps.Orphans));

        _clock.Advance(TimeSpan.FromMinutes(2));

        Assert.Equal(Gaps.PullUnclaimed, Assert.Single(Finder.Find(Gaps.Orphans)).Name);
    }

    [Fact]
    public async Task Find_OrphanCallbackEvent_Orphan()
    {
        await Store.AppendEventAsync(null, "orphan_callback", "user:1001", """{"data":"a:999:deadbeef"}""");

        var gap = Assert.Single(Finder.Find(Gaps.Orphans));

        Assert.Equal(Gaps.OrphanCallback, gap.Name);
        Assert.Null(gap.DraftId);
    }

    [Fact]
    public async Task Find_AwaitingDecisionPastStaleAfter_StaleOnlyThen()
    {
        await DraftFixtures.SubmitAsync(Store, "reply:waiting");
        _clock.Advance(TimeSpan.FromMinutes(59));
        Assert.Empty(Finder.Find(Gaps.Stale));

        _clock.Advance(TimeSpan.FromMinutes(2));

        var gap = Assert.Single(Finder.Find(Gaps.Stale));
        Assert.Equal((Gaps.AwaitingDecision, "reply:waiting"), (gap.Name, gap.DraftId));
        // No card yet: the outbox's to send, nothing for an approver to resend.
        Assert.Empty(gap.Actions);
    }

    /// <summary>A carded draft's card may be gone from the chat (deleted) or out of reach: its escalation offers a fresh one.</summary>
    [Fact]
    public async Task Find_CardedDraftAwaitingDecision_OffersResendCard()
    {
        await DraftFixtures.SubmitAsync(Store, "reply:carded");
        await DraftFixtures.MoveAsync(Store, "reply:carded", DraftState.Pending, DraftState.Carded,
            new Dictionary<string, object?> { ["card_chat_id"] = 1001L, ["card_message_id"] = 5L });
        _clock.Advance(TimeSpan.FromMinutes(61));

        var gap = Assert.Single(Finder.Find(Gaps.Stale));

        Assert.Equal((Gaps.AwaitingDecision, "carded"), (gap.Name, gap.State));
        Assert.Equal([ApproverAction.ResendCard], gap.Actions);
    }

    [Fact]
    public async Task Find_FailedAndUnknownExecutions_StaleWithTheirButtons()
    {
        await DraftFixtures.ApproveAsync(Store, "reply:failed");
        await DraftFixtures.MoveAsync(Store, "reply:failed", DraftState.Approved, DraftState.Executing);
        await DraftFixtures.MoveAsync(Store, "reply:failed", DraftState.Executing, DraftState.Failed, new Dictionary<string, object?> { ["exec_error"] = "exit 1" });
        await DraftFixtures.ApproveAsync(Store, "reply:unknown");
        await DraftFixtures.MoveAsync(Store, "reply:unknown", DraftState.Approved, DraftState.Executing);
        await DraftFixtures.MoveAsync(Store, "reply:unknown", DraftState.Executing, DraftState.Unknown);

        var gaps = Finder.Find(Gaps.Stale).ToDictionary(g => g.DraftId!);

        Assert.Equal([ApproverAction.Retry, ApproverAction.Discard], gaps["reply:failed"].Actions);
        Assert.Equal([ApproverAction.Retry, ApproverAction.MarkDone, ApproverAction.Discard], gaps["reply:unknown"].Actions);
        Assert.Contains("exit 1", gaps["reply:failed"].Detail, StringComparison.Ordinal);
    }

    /// <summary>
    /// Which way a draft became unknown is read from the ledger event that made it so, not from the wording of its error:
    /// a restore's reason in words of an older build (or none) is still a restore, and a run cut off whose error happens to
    /// begin with the restore's reason (a route's stderr quoting it) is still a run cut off.
    /// </summary>
    [Fact]
    public async Task Find_UnknownByARestoreOrByARunCutOff_ToldFromTheLedgerNotTheErrorText()
    {
        var route = new ExecutorRouteOptions { Type = "command", Command = ["/bin/true"] };
        await DraftFixtures.ApproveAsync(Store, "posted:restored");
        await Store.WriteAsync(ctx => DraftStore.Apply(ctx, new Transition("posted:restored", [DraftState.Approved], DraftState.Unknown, AttemptEvents.RestoreUnsettled, "executor")
        {
            Set = new Dictionary<string, object?> { ["exec_error"] = "approved before the restore (as an older build put it)" },
        }));
        await DraftFixtures.ApproveAsync(Store, "posted:cut-off");
        var begin = await Store.WriteAsync(ctx => ExecutionLedger.Begin(ctx, "posted:cut-off", "executor:command", route, TimeSpan.FromMinutes(1), "execute"));
        await Store.WriteAsync(ctx => ExecutionLedger.Finish(ctx, "posted:cut-off", begin.Lease!,
            AttemptOutcome.Interrupted(RestoredApprovals.Reason + ", said the route's stderr; then it was killed"), route, new ExecutionOptions(), "executor:command"));

        var gaps = Finder.Find(Gaps.Stale).ToDictionary(g => g.DraftId!);

        Assert.StartsWith(RestoredApprovals.Reason, Store.Get("posted:cut-off")!.ExecError, StringComparison.Ordinal);
        Assert.StartsWith("outcome unknown (approved in a store restored from a backup", gaps["posted:restored"].Detail, StringComparison.Ordinal);
        Assert.StartsWith("outcome unknown (its command run may have taken effect: " + RestoredApprovals.Reason, gaps["posted:cut-off"].Detail, StringComparison.Ordinal);
    }

    /// <summary>
    /// Every unknown draft of a report is told by its own latest cause, all read in one query: a restore, a run cut off (by
    /// its runner, or by a crash), a pull executor's fail (in its own words, as its error was given), a restore whose Retry
    /// was then cut off (the later cause), and a draft with no such event (an older build's): a run cut off.
    /// </summary>
    [Fact]
    public async Task Find_UnknownDraftsOfEveryCause_EachToldByItsOwnLatestCause()
    {
        var command = new ExecutorRouteOptions { Type = "command", Command = ["/bin/true"] };
        var pull = new ExecutorRouteOptions { Type = "pull" };
        var options = new ExecutionOptions();
        Task RestoredAsync(string id, string kind = "posted", string route = "command") => RestoredUnsettledAsync(Store, id, kind, route);
        async Task CutOffAsync(string id)
        {
            var begin = await Store.WriteAsync(ctx => ExecutionLedger.Begin(ctx, id, "executor:command", command, TimeSpan.FromMinutes(1), "execute"));
            await Store.WriteAsync(ctx => ExecutionLedger.Finish(ctx, id, begin.Lease!,
            AttemptOutcome.Interrupted("killed after 30 s"), command, options, "executor:command"));
        }
        await RestoredAsync("posted:restored");
        await RestoredAsync("memo:unrouted", kind: "memo", route: "none");
        await DraftFixtures.ApproveAsync(Store, "posted:cut-off");
        await CutOffAsync("posted:cut-off");
        await DraftFixtures.ApproveAsync(Store, "posted:crashed");
        var crashed = await Store.WriteAsync(ctx => ExecutionLedger.Begin(ctx, "posted:crashed", "executor:command", command, TimeSpan.FromMinutes(1), "execute"));
        await Store.WriteAsync(ctx => ExecutionLedger.Recover(ctx, "posted:crashed", crashed.Lease, command, "the service stopped", AttemptEvents.ExecutionInterrupted));
        await DraftFixtures.ApproveAsync(Store, "pulled:maybe");
        var claimed = await Store.WriteAsync(ctx => ExecutionLedger.Begin(ctx, "pulled:maybe", "pull:pulled", pull, TimeSpan.FromMinutes(1), "claim"));
        await Store.WriteAsync(ctx => ExecutionLedger.Finish(ctx, "pulled:maybe", claimed.Lease!,
            AttemptOutcome.Failure("the target did not answer; it may have posted", retryable: true, mayHaveTakenEffect: true), pull, options, "pull:pulled"));
        await RestoredAsync("posted:retried");
        Assert.True((await _host.Services.GetRequiredService<ApproverActions>().RetryAsync("posted:retried", "approver:1")).Applied);
        await CutOffAsync("posted:retried");
        await DraftFixtures.ApproveAsync(Store, "posted:older");
        await DraftFixtures.MoveAsync(Store, "posted:older", DraftState.Approved, DraftState.Executing);
        await DraftFixtures.MoveAsync(Store, "posted:older", DraftState.Executing, DraftState.Unknown);

        var details = Finder.Find(Gaps.Stale).ToDictionary(g => g.DraftId!, g => g.Detail);

        const string cutOff = "outcome unknown (its command run may have taken effect: killed after 30 s) on a route that does not dedupe; check the sink, then Mark done or Retry";
        Assert.Equal(new Dictionary<string, string>
        {
            ["posted:restored"] = "outcome unknown (approved in a store restored from a backup: it may have run after the backup) on a route that does not dedupe; " +
                "check the sink, then Mark done or Retry",
            ["memo:unrouted"] = "outcome unknown (approved in a store restored from a backup: it may have run after the backup, where the copy was made); " +
                "its kind has no route here: add one, then Retry, or Mark done",
            ["posted:cut-off"] = cutOff,
            ["posted:crashed"] = "outcome unknown (its command run was cut off: the service stopped); check the sink, then Mark done or Retry",
            ["pulled:maybe"] = "outcome unknown (its pull executor could not tell whether it took effect: the target did not answer; it may have posted) " +
                "on a route that does not dedupe; check the target, then Mark done or Retry",
            ["posted:retried"] = cutOff,
            ["posted:older"] = "outcome unknown (cut off mid-run: a crash, a timeout or a redirect) on a route that does not dedupe; check the sink, then Mark done or Retry",
        }, details);
    }

    /// <summary>What ExecutorCycle.RecoverOneAsync records for a push run a crash cut off, found at the next start.</summary>
    private const string CrashReason = "the attempt's outcome was never recorded (the service stopped while it ran, or could not write the outcome)";

    /// <summary>
    /// One unknown draft per way a draft becomes unknown, each recorded as the executor (or the pull route, or a restore)
    /// records it: /stale says what happened and keeps the run's own error, which is what the approver checks the sink
    /// against. Before, every run the route itself reported may have taken effect (killed, timed out, no response, reset,
    /// redirected) and every run a crash or a stop cut off read "cut off mid-run: a crash, a timeout or a redirect" without
    /// its error, and a run made unknown because its kind moved to another route said only that, not how the run ended.
    /// </summary>
    [Fact]
    public async Task Find_UnknownDraftOfEachCause_SaysTheCauseAndKeepsTheRunsOwnError()
    {
        var command = new ExecutorRouteOptions { Type = "command", Command = ["/bin/true"] };
        var webhook = new ExecutorRouteOptions { Type = "webhook", Url = "https://sink.example/post" };
        var pull = new ExecutorRouteOptions { Type = "pull" };
        var options = new ExecutionOptions();
        async Task<string> BeginAsync(string id, ExecutorRouteOptions route, string actor)
        {
            await DraftFixtures.ApproveAsync(Store, id, kind: id.Split(':')[0]);
            return (await Store.WriteAsync(ctx => ExecutionLedger.Begin(ctx, id, actor, route, TimeSpan.FromMinutes(1), "execute"))).Lease!;
        }
        async Task RunAsync(string id, ExecutorRouteOptions route, AttemptOutcome outcome, ExecutorRouteOptions? finishedOn = null)
        {
            var actor = "executor:" + ExecutionLedger.RouteName(route);
            var lease = await BeginAsync(id, route, actor);
            Assert.Equal(DraftState.Unknown, (await Store.WriteAsync(ctx => ExecutionLedger.Finish(ctx, id, lease, outcome, finishedOn ?? route, options, actor))).Draft!.State);
        }
        async Task RecoverAsync(string id, ExecutorRouteOptions route, string reason, string type, string actor)
        {
            var lease = await BeginAsync(id, route, actor);
            Assert.NotNull(await Store.WriteAsync(ctx => ExecutionLedger.Recover(ctx, id, lease, route, reason, type, ExecutionLedger.RouteName(route))));
        }
        await RunAsync("posted:killed", command, AttemptOutcome.Interrupted("killed by signal 9 (or exited with code 137): posting | cut off"));
        await RunAsync("posted:timeout", command, AttemptOutcome.Interrupted(
            "timed out after 30s; the program was sent SIGTERM and exited, then the rest of its session was killed: still posting"));
        await RunAsync("hooked:timeout", webhook, AttemptOutcome.Interrupted("no response within 30s"));
        await RunAsync("hooked:reset", webhook, AttemptOutcome.Interrupted(
            "network error after the request may have reached the sink: The response ended prematurely."));
        await RunAsync("hooked:redirect", webhook, AttemptOutcome.Failure("HTTP 302 Found -> https://sink.example/login: the sink redirected the POST " +
            "(redirects are not followed); point the route's Url at the final address", retryable: false) with { MayHaveTakenEffect = true });
        await RunAsync("hooked:moved", webhook, AttemptOutcome.Interrupted("no response within 30s"),
            finishedOn: new ExecutorRouteOptions { Type = "command", Command = ["/bin/true"], Idempotent = true });
        await RecoverAsync("posted:crashed", command, CrashReason, AttemptEvents.ExecutionInterrupted, "executor:command");
        await RecoverAsync("posted:stopped", command, "the service stopped while the attempt was running", AttemptEvents.ExecutionInterrupted, "executor:command");
        await RecoverAsync("leased:expired", pull, "the pull lease expired at 2026-11-23T12:00:00.0000000+00:00 without complete or fail",
            AttemptEvents.LeaseExpired, "pull:leased");
        var claimed = await BeginAsync("pulled:maybe", pull, "pull:pulled");
        await Store.WriteAsync(ctx => ExecutionLedger.Finish(ctx, "pulled:maybe", claimed,
            AttemptOutcome.Failure("the target did not answer; it may have posted", retryable: true, mayHaveTakenEffect: true), pull, options, "pull:pulled"));
        await RestoredUnsettledAsync(Store, "posted:restored", "posted", "command");

        var details = Finder.Find(Gaps.Stale).ToDictionary(g => g.DraftId!, g => g.Detail);

        const string check = "check the sink, then Mark done or Retry";
        Assert.Equal(new Dictionary<string, string>
        {
            ["posted:killed"] = "outcome unknown (its command run may have taken effect: killed by signal 9 (or exited with code 137): posting | cut off) " +
                "on a route that does not dedupe; " + check,
            ["posted:timeout"] = "outcome unknown (its command run may have taken effect: timed out after 30s; the program was sent SIGTERM and exited, " +
                "then the rest of its session was killed: still posting) on a route that does not dedupe; " + check,
            ["hooked:timeout"] = "outcome unknown (its webhook request may have taken effect: no response within 30s) on a route that does not dedupe; " + check,
            ["hooked:reset"] = "outcome unknown (its webhook request may have taken effect: network error after the request may have reached the sink: " +
                "The response ended prematurely.) on a route that does not dedupe; " + check,
            ["hooked:redirect"] = "outcome unknown (its webhook request may have taken effect: HTTP 302 Found -> https://sink.example/login: the sink " +
                "redirected the POST (redirects are not followed); point the route's Url at the final address) on a route that does not dedupe; " + check,
            ["hooked:moved"] = "outcome unknown (its webhook request may have taken effect: no response within 30s; it was started on a webhook route, and " +
                "its kind's route is command now, whose idempotency key may not reach what it did); " + check,
            ["posted:crashed"] = $"outcome unknown (its command run was cut off: {CrashReason}); " + check,
            ["posted:stopped"] = "outcome unknown (its command run was cut off: the service stopped while the attempt was running); " + check,
            ["leased:expired"] = "outcome unknown (its pull lease expired without complete or fail: its agent may have posted before it stopped) " +
                "on a route that does not dedupe; check the target, then Mark done or Retry",
            ["pulled:maybe"] = "outcome unknown (its pull executor could not tell whether it took effect: the target did not answer; it may have posted) " +
                "on a route that does not dedupe; check the target, then Mark done or Retry",
            ["posted:restored"] = "outcome unknown (approved in a store restored from a backup: it may have run after the backup) on a route that does not " +
                "dedupe; " + check,
        }, details);
    }

    /// <summary>
    /// Failed drafts of a restored store (an attempt on record) that the first executor cycle made unknown: /stale says they
    /// were failed there and that an approver may have retried them, with a route here or without one. Before, every
    /// restore_unsettled read as a restored approval ("approved in a store restored from a backup").
    /// </summary>
    [Fact]
    public async Task Find_FailedDraftsOfARestoredStoreMadeUnknown_SaidFailedThereNotApproved()
    {
        var command = new ExecutorRouteOptions { Type = "command", Command = ["/bin/true"] };
        async Task FailAsync(string id, string kind)
        {
            await DraftFixtures.ApproveAsync(Store, id, kind: kind);
            var begin = await Store.WriteAsync(ctx => ExecutionLedger.Begin(ctx, id, "executor:command", command, TimeSpan.FromMinutes(1), "execute"));
            await Store.WriteAsync(ctx => ExecutionLedger.Finish(ctx, id, begin.Lease!, AttemptOutcome.Failure("exit code 2", retryable: false), command,
                new ExecutionOptions(), "executor:command"));
        }
        await FailAsync("posted:failed", "posted");
        await FailAsync("memo:failed", "memo");
        await Store.SetSettingAsync(RestoredApprovals.MarkerKey,
            DraftColumns.ToUnixMs(DateTimeOffset.UtcNow.AddMinutes(1)).ToString(System.Globalization.CultureInfo.InvariantCulture));
        var routes = new ExecutorRoutesOptions();
        routes.Routes["posted"] = command;
        Assert.Equal(2, (await RestoredApprovals.SettleAsync(Store, routes, DateTimeOffset.UtcNow)).Count);

        var details = Finder.Find(Gaps.Stale).ToDictionary(g => g.DraftId!, g => g.Detail);

        Assert.Equal(new Dictionary<string, string>
        {
            ["posted:failed"] = "outcome unknown (failed in a store restored from a backup: an approver may have retried it, and it may have run again after " +
                "the backup) on a route that does not dedupe; check the sink, then Mark done or Retry",
            ["memo:failed"] = "outcome unknown (failed in a store restored from a backup: an approver may have retried it, and it may have run again after " +
                "the backup, where the copy was made); its kind has no route here: add one, then Retry, or Mark done",
        }, details);
    }

    /// <summary>
    /// A draft left to a rerun under its key (its attempt cut off on a route that deduped), made unknown instead because its
    /// route does not dedupe now: /stale says so, from the executor's own reason. Before, it read as a run cut off mid-run.
    /// </summary>
    [Fact]
    public async Task Find_UnknownBecauseItsRouteNoLongerDedupes_SaysSoRatherThanCutOff()
    {
        var deduping = new ExecutorRouteOptions { Type = "command", Command = ["/bin/true"], Idempotent = true };
        var notDeduping = new ExecutorRouteOptions { Type = "command", Command = ["/bin/true"] };
        await DraftFixtures.ApproveAsync(Store, "posted:undeduped", kind: "posted");
        var begin = await Store.WriteAsync(ctx => ExecutionLedger.Begin(ctx, "posted:undeduped", "executor:command", deduping, TimeSpan.FromMinutes(1), "execute"));
        await Store.WriteAsync(ctx => ExecutionLedger.Finish(ctx, "posted:undeduped", begin.Lease!, AttemptOutcome.Interrupted("killed after 30 s"), deduping,
            new ExecutionOptions(), "executor:command"));
        var ended = await Store.WriteAsync(ctx => ExecutionLedger.EndExhausted(ctx, "posted:undeduped", "executor", notDeduping, "execute"));
        Assert.NotNull(ended.Unsettled);

        var gap = Assert.Single(Finder.Find(Gaps.Stale));

        Assert.Equal("outcome unknown (its last attempt may have taken effect and was left to a rerun under the same key, but its route does not dedupe now); " +
            "check the sink, then Mark done or Retry", gap.Detail);
    }

    /// <summary>
    /// A run whose outcome the store refused to record, so that the executor made the draft unknown with that outcome: /stale
    /// says what the run did, not that it was cut off mid-run.
    /// </summary>
    [Fact]
    public async Task Find_UnknownBecauseItsOutcomeCouldNotBeRecorded_SaysTheOutcome()
    {
        var command = new ExecutorRouteOptions { Type = "command", Command = ["/bin/true"], Idempotent = true };
        await DraftFixtures.ApproveAsync(Store, "posted:unrecorded", kind: "posted");
        var begin = await Store.WriteAsync(ctx => ExecutionLedger.Begin(ctx, "posted:unrecorded", "executor:command", command, TimeSpan.FromMinutes(1), "execute"));
        const string reason = "attempt 1 succeeded (https://example.test/1) but its outcome could not be recorded (SqliteException: refused)";
        Assert.NotNull(await Store.WriteAsync(ctx => ExecutionLedger.OutcomeNotRecorded(ctx, "posted:unrecorded", begin.Lease!, command, reason)));

        var gap = Assert.Single(Finder.Find(Gaps.Stale));

        Assert.Equal($"outcome unknown ({reason}); check the sink, then Mark done or Retry", gap.Detail);
    }

    /// <summary>An approval of the copy that the first executor cycle of a restored store made unknown, with the route it recorded.</summary>
    private static async Task RestoredUnsettledAsync(DraftStore store, string id, string kind, string route)
    {
        await DraftFixtures.ApproveAsync(store, id, kind: kind);
        await store.WriteAsync(ctx => DraftStore.Apply(ctx, new Transition(id, [DraftState.Approved], DraftState.Unknown, AttemptEvents.RestoreUnsettled, "executor")
        {
            Set = new Dictionary<string, object?> { ["exec_error"] = RestoredApprovals.Reason + ExecutionLedger.UnknownNote },
            Details = new System.Text.Json.Nodes.JsonObject { ["route"] = route },
        }));
    }

    /// <summary>
    /// An approval restored from a backup while its kind had no route here: /stale says to add one. Once the operator has
    /// (a restart with the route configured), it says to check the sink, as for any restored approval, though the event
    /// recorded no route. Before, it kept saying "its kind has no route here" until the draft was retried or marked done.
    /// </summary>
    [Fact]
    public async Task Find_RestoredApprovalOfAKindWithoutARoute_TheWordingFollowsARouteAddedSince()
    {
        using var data = new TempDirectory();
        await using (var before = await TestHost.StartAsync(dataDirectory: data.Path, compose: b => b.AddReconciliation()))
        {
            await RestoredUnsettledAsync(before.Store, "memo:restored", "memo", AttemptEvents.NoRoute);
            var gap = Assert.Single(before.Services.GetRequiredService<GapFinder>().Find(Gaps.Stale));
            Assert.EndsWith("its kind has no route here: add one, then Retry, or Mark done", gap.Detail, StringComparison.Ordinal);
        }

        await using var after = await TestHost.StartAsync(
            ["ApprovalBot:Kinds:memo:Executor:Type=command", "ApprovalBot:Kinds:memo:Executor:Command:0=/bin/true"], dataDirectory: data.Path,
            compose: b => b.AddReconciliation());
        var detail = Assert.Single(after.Services.GetRequiredService<GapFinder>().Find(Gaps.Stale)).Detail;

        Assert.Equal("outcome unknown (approved in a store restored from a backup: it may have run after the backup, where the copy was made); " +
            "its kind has a route here now: check the sink, then Mark done or Retry", detail);
    }

    [Fact]
    public async Task Find_HealthyStore_BothReportsEmpty()
    {
        await DraftFixtures.SubmitAsync(Store, "reply:fresh");
        await DraftFixtures.ApproveAsync(Store, "reply:rejected-later");
        await DraftFixtures.MoveAsync(Store, "reply:rejected-later", DraftState.Approved, DraftState.Cancelled);

        Assert.Empty(Finder.All());
    }

    [Fact]
    public async Task Find_FreshLeaseExpiryBehindThousandOfDraftsSinceExecuted_StillReported()
    {
        Filler(Gaps.LeaseExpired, 1000, "executed");
        await ClaimedThenLeaseExpiredAsync("pulled:fresh", maxAttempts: 3);

        var gap = Assert.Single(Finder.Find(Gaps.Orphans));

        Assert.Equal((Gaps.LeaseExpired, "pulled:fresh"), (gap.Name, gap.DraftId));
    }

    [Fact]
    public async Task Find_FreshLeaseExpiryBehindMoreThanLimitOnOtherRoutes_StillReportedAndNothingMore()
    {
        // Executing drafts of a kind without a pull route, with lease_expired events an older build wrote: not this gap,
        // and more of them than one read of the ledger takes.
        Filler(Gaps.LeaseExpired, GapFinder.DefaultLimit + 5, "executing", kind: "reply");
        await ClaimedThenLeaseExpiredAsync("pulled:fresh", maxAttempts: 3);

        var gap = Assert.Single(Finder.Find(Gaps.Orphans));

        Assert.Equal((Gaps.LeaseExpired, "pulled:fresh"), (gap.Name, gap.DraftId));
    }

    [Fact]
    public async Task Find_FreshOrphanCallbackBehindThousandDismissedOnes_StillReported()
    {
        Filler(Gaps.OrphanCallback, 1000);
        DraftFixtures.Sql(_host.DataDirectory, """
            INSERT INTO events(draft_id, at, type, actor, details)
            SELECT NULL, at, 'gap_dismissed', 'telegram:1001', json_object('event_id', id, 'gap', 'orphan_callback') FROM events WHERE type = 'orphan_callback';
            """);
        await Store.AppendEventAsync(null, Gaps.OrphanCallback, "telegram:1001", """{"data":"a:999:deadbeef"}""");

        var gap = Assert.Single(Finder.Find(Gaps.Orphans));

        Assert.Equal(Gaps.OrphanCallback, gap.Name);
        Assert.Contains("a:999:deadbeef", gap.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Find_DismissalWithoutEventId_HidesNoOrphanCallback()
    {
        // NOT IN over a list holding NULL is never true: a malformed dismissal must not hide every stray tap.
        await Store.AppendEventAsync(null, GapDismissals.EventType, "telegram:1001", "{}");
        await Store.AppendEventAsync(null, Gaps.OrphanCallback, "telegram:1001", """{"data":"a:999:deadbeef"}""");

        Assert.Equal(Gaps.OrphanCallback, Assert.Single(Finder.Find(Gaps.Orphans)).Name);
    }

    [Fact]
    public void Find_MoreLiveOrphanCallbacksThanLimit_ReportSaysMoreExist()
    {
        Filler(Gaps.OrphanCallback, GapFinder.DefaultLimit + 3);

        var gaps = Finder.Find(Gaps.Orphans);

        Assert.Equal(GapFinder.DefaultLimit + 1, gaps.Count);
        Assert.All(gaps.Take(GapFinder.DefaultLimit), g => Assert.NotNull(g.EventId));
        var more = gaps[^1];
        Assert.Equal((Gaps.OrphanCallback, "orphans:orphan_callback:more", (long?)null), (more.Name, more.Key, more.EventId));
        Assert.Contains($"3 more {Gaps.OrphanCallback} not listed", more.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Find_MoreLiveLeaseExpiriesThanLimit_ReportSaysMoreExist()
    {
        Filler(Gaps.LeaseExpired, GapFinder.DefaultLimit + 2, "executing");

        var gaps = Finder.Find(Gaps.Orphans);

        Assert.Equal(GapFinder.DefaultLimit + 1, gaps.Count);
        Assert.All(gaps.Take(GapFinder.DefaultLimit), g => Assert.Equal(Gaps.LeaseExpired, g.Name));
        Assert.Equal("orphans:lease_expired:more", gaps[^1].Key);
        Assert.Contains($"2 more {Gaps.LeaseExpired} not listed", gaps[^1].Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Find_CardedLateAfterWaitingPending_StaleTimedFromSubmission()
    {
        var submitted = await DraftFixtures.SubmitAsync(Store, "reply:late-card");
        _clock.Advance(TimeSpan.FromMinutes(50));
        await DraftFixtures.MoveAsync(Store, "reply:late-card", DraftState.Pending, DraftState.Carded);
        _clock.Advance(TimeSpan.FromMinutes(20));

        var gap = Assert.Single(Finder.Find(Gaps.Stale));

        Assert.Equal((Gaps.AwaitingDecision, "reply:late-card", "carded"), (gap.Name, gap.DraftId, gap.State));
        Assert.Equal(submitted.CreatedAt, gap.Since);
        Assert.Contains("awaiting a decision for 1h 10m", gap.Detail, StringComparison.Ordinal);
    }

    /// <summary>Runs <paramref name="meanwhile"/> once, while the report is being read (it asks for a route from within a query).</summary>
    private sealed class RoutesWithAHook(IRouteLookup routes, Action meanwhile) : IRouteLookup
    {
        private int _calls;

        public string? RouteType(string kind)
        {
            if (Interlocked.Increment(ref _calls) == 1)
            {
                meanwhile();
            }
            return routes.RouteType(kind);
        }
    }

    [Fact]
    public async Task Find_DraftChangesStateWhileTheReportIsRead_ReportedOnceAsOfOneMoment()
    {
        // Executing past StuckAfter is not_executed; it fails while the report reads its approved and executing drafts.
        // Read query by query, the failed-and-unknown query then saw it failed: one draft, two gaps in one report.
        await DraftFixtures.ApproveAsync(Store, "posted:racing", kind: "posted", at: _clock.GetUtcNow());
        await DraftFixtures.MoveAsync(Store, "posted:racing", DraftState.Approved, DraftState.Executing);
        _clock.Advance(TimeSpan.FromHours(1));
        var routes = new RoutesWithAHook(_host.Services.GetRequiredService<IRouteLookup>(), () =>
            DraftFixtures.MoveAsync(Store, "posted:racing", DraftState.Executing, DraftState.Failed,
                new Dictionary<string, object?> { ["exec_error"] = "exit 1" }).GetAwaiter().GetResult());
        var finder = ActivatorUtilities.CreateInstance<GapFinder>(_host.Services, routes);

        var during = finder.Find(Gaps.Stale);
        var after = finder.Find(Gaps.Stale);

        Assert.Equal([(Gaps.NotExecuted, "posted:racing")], during.Select(g => (g.Name, g.DraftId)));
        Assert.Equal([(Gaps.AwaitingHuman, "posted:racing")], after.Select(g => (g.Name, g.DraftId)));
    }

    [Fact]
    public async Task Find_ApprovedOnCommandRoutePastStuckAfter_StaleNotExecuted()
    {
        await DraftFixtures.ApproveAsync(Store, "posted:stuck", kind: "posted", at: _clock.GetUtcNow());
        _clock.Advance(TimeSpan.FromMinutes(29));
        Assert.Empty(Finder.Find(Gaps.Stale));

        _clock.Advance(TimeSpan.FromMinutes(2));

        var gap = Assert.Single(Finder.Find(Gaps.Stale));
        Assert.Equal((Gaps.NotExecuted, "posted:stuck"), (gap.Name, gap.DraftId));
        Assert.Contains("approved 31m ago", gap.Detail, StringComparison.Ordinal);
    }

    /// <summary>
    /// Discard takes an approved draft, never one whose run is under way: offered on an executing draft, the button only
    /// answered that it no longer applied. Found by review.
    /// </summary>
    [Fact]
    public async Task Find_ExecutingPastStuckAfter_NotExecutedWithoutADiscardButton()
    {
        await DraftFixtures.ApproveAsync(Store, "posted:waiting", kind: "posted", at: _clock.GetUtcNow());
        await DraftFixtures.ApproveAsync(Store, "posted:running", kind: "posted", at: _clock.GetUtcNow());
        await DraftFixtures.MoveAsync(Store, "posted:running", DraftState.Approved, DraftState.Executing);
        _clock.Advance(TimeSpan.FromMinutes(31));

        var gaps = Finder.Find(Gaps.Stale).OrderBy(g => g.DraftId, StringComparer.Ordinal).ToList();

        Assert.Equal([(Gaps.NotExecuted, "posted:running"), (Gaps.NotExecuted, "posted:waiting")], gaps.Select(g => (g.Name, g.DraftId)));
        Assert.Empty(gaps[0].Actions);
        Assert.Equal([ApproverAction.Discard], gaps[1].Actions);
    }

    [Fact]
    public async Task Find_FailedDraftRetriedByApprover_NotExecutedTimedFromTheRetry()
    {
        await DraftFixtures.ApproveAsync(Store, "posted:retried", kind: "posted", at: _clock.GetUtcNow());
        await DraftFixtures.MoveAsync(Store, "posted:retried", DraftState.Approved, DraftState.Executing);
        await DraftFixtures.MoveAsync(Store, "posted:retried", DraftState.Executing, DraftState.Failed, new Dictionary<string, object?> { ["exec_error"] = "exit 1" });
        _clock.Advance(TimeSpan.FromHours(27));
        // As the ledger keeps it: to the millisecond.
        var retriedAt = DateTimeOffset.FromUnixTimeMilliseconds(_clock.GetUtcNow().ToUnixTimeMilliseconds());
        Assert.True((await _host.Services.GetRequiredService<ApproverActions>().RetryAsync("posted:retried", "telegram:1001")).Applied);
        // Its first attempt after the retry failed and waits for the next: still timed from the retry.
        await DraftFixtures.MoveAsync(Store, "posted:retried", DraftState.Approved, DraftState.Executing);
        await DraftFixtures.MoveAsync(Store, "posted:retried", DraftState.Executing, DraftState.Approved);
        _clock.Advance(TimeSpan.FromMinutes(29));
        Assert.Empty(Finder.Find(Gaps.Stale));

        _clock.Advance(TimeSpan.FromMinutes(2));

        var gap = Assert.Single(Finder.Find(Gaps.Stale));
        Assert.Equal((Gaps.NotExecuted, "posted:retried", retriedAt), (gap.Name, gap.DraftId, gap.Since));
        Assert.Contains("retried 31m ago (approved 1d 3h ago)", gap.Detail, StringComparison.Ordinal);
    }

    /// <summary>
    /// An error a build before route output was cleaned stored as the program printed it (a line break, then a line made to
    /// look like the service's own log, and a terminal escape): the gap says it as one line of plain text, so its log
    /// line, the pipe's report and the chat cannot be forged by it.
    /// </summary>
    [Theory]
    [InlineData("failed")]
    [InlineData("unknown")]
    [InlineData("blocked")]
    public void Find_StoredErrorWithLineBreaksAndEscapes_DetailIsOnePlainLine(string state)
    {
        DraftFixtures.BulkDrafts(_host.DataDirectory, "reply:raw", "reply", state, 1, _clock.GetUtcNow().AddHours(-2),
            "exec_error = 'exit code 1: a' || char(10) || '[12:00:00 INF] forged' || char(27) || '[31m red' || char(8238) || 'x'");

        var gap = Assert.Single(new[] { Gaps.Orphans, Gaps.Stale }.SelectMany(r => Finder.Find(r)), g => g.DraftId == "reply:raw:1");

        Assert.DoesNotContain(gap.Detail, c => char.IsControl(c) || c == '\u202E');
        Assert.Contains("a | [12:00:00 INF] forged red", gap.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(Gaps.Orphans, Gaps.TextMissing, "reply", "blocked", "text = NULL")]
    [InlineData(Gaps.Orphans, Gaps.TextChanged, "posted", "approved", "text = 'other words'")]
    [InlineData(Gaps.Orphans, Gaps.DecisionMissing, "posted", "approved", "decision_sha256 = NULL")]
    [InlineData(Gaps.Orphans, Gaps.NoRoute, "reply", "approved", null)]
    [InlineData(Gaps.Orphans, Gaps.PullUnclaimed, "pulled", "approved", null)]
    [InlineData(Gaps.Orphans, Gaps.CardUndelivered, "reply", "pending", "card_attempts = 8, card_error = 'Bad Request: message is too long'")]
    [InlineData(Gaps.Stale, Gaps.AwaitingDecision, "reply", "carded", null)]
    [InlineData(Gaps.Stale, Gaps.NotExecuted, "posted", "approved", null)]
    [InlineData(Gaps.Stale, Gaps.AwaitingHuman, "reply", "failed", "exec_error = 'exit 1'")]
    public void Find_MoreGapsOfAStateClassThanLimit_ReportSaysHowManyMore(string report, string gap, string kind, string state, string? set)
    {
        DraftFixtures.BulkDrafts(_host.DataDirectory, $"{kind}:many", kind, state, SmallLimit + 2, _clock.GetUtcNow().AddHours(-2), set);

        var gaps = FinderWithLimit(SmallLimit).Find(report);

        Assert.Equal(SmallLimit, gaps.Count(g => g.Name == gap && g.DraftId is not null));
        var more = Assert.Single(gaps, g => g.DraftId is null);
        Assert.Equal((gap, $"{report}:{gap}:more"), (more.Name, more.Key));
        Assert.StartsWith($"2 more {gap} not listed", more.Detail, StringComparison.Ordinal);
        Assert.Equal(SmallLimit + 1, gaps.Count);
    }

    [Theory]
    // Pending drafts are on their way to a card only in their first minutes (after ten they are card_waiting).
    [InlineData(Gaps.Orphans, Gaps.CardUndelivered, "reply", "pending", "reply", "pending", "card_attempts = 8, card_error = 'Bad Request: message is too long'", 5)]
    [InlineData(Gaps.Orphans, Gaps.TextMissing, "posted", "approved", "posted", "approved", "text = NULL", 120)]
    [InlineData(Gaps.Stale, Gaps.AwaitingDecision, "posted", "carded", "reply", "carded", null, 120)]
    [InlineData(Gaps.Stale, Gaps.NotExecuted, "pulled", "approved", "posted", "approved", null, 120)]
    public void Find_GapBehindMoreDraftsThanLimitWithoutGapsInItsStates_StillReported(
        string report, string gap, string healthyKind, string healthyState, string kind, string state, string? set, int minutesAgo)
    {
        // Ahead of it in the query's order (submitted and in their state earlier), drafts that are no gap: awaiting a kind's
        // longer StaleAfter, approved on a route that runs them, on their way to a card.
        var at = _clock.GetUtcNow().AddMinutes(-minutesAgo);
        DraftFixtures.BulkDrafts(_host.DataDirectory, "healthy", healthyKind, healthyState, SmallLimit + 2, at.AddMinutes(-1));
        DraftFixtures.BulkDrafts(_host.DataDirectory, "gap", kind, state, 1, at, set);

        var found = Assert.Single(FinderWithLimit(SmallLimit).Find(report));

        Assert.Equal((gap, "gap:1"), (found.Name, found.DraftId));
    }

    [Fact]
    public void Find_GapClassFoundInTwoStates_LimitCountsThemTogether()
    {
        // text_missing: drafts already blocked for it, and approvals the executor has not reached yet.
        var at = _clock.GetUtcNow().AddHours(-2);
        DraftFixtures.BulkDrafts(_host.DataDirectory, "blocked", "reply", "blocked", 2, at, "text = NULL");
        DraftFixtures.BulkDrafts(_host.DataDirectory, "approved", "posted", "approved", 2, at, "text = NULL");

        var gaps = FinderWithLimit(SmallLimit).Find(Gaps.Orphans);

        Assert.Equal(SmallLimit, gaps.Count(g => g.DraftId is not null));
        Assert.StartsWith($"1 more {Gaps.TextMissing} not listed", Assert.Single(gaps, g => g.DraftId is null).Detail, StringComparison.Ordinal);
    }
}
