using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Execution;
using ApprovalBot.Reconciliation;
using ApprovalBot.Tests.Infrastructure;
using ApprovalBot.Tests.Reconciliation;
using Microsoft.Extensions.DependencyInjection;
using Quartz;

namespace ApprovalBot.Tests.Execution.Pull;

/// <summary>claim / complete / fail over the real pipe, with the store's clock under the test's hand.</summary>
public sealed class PullOperationsTests : IAsyncLifetime
{
    private readonly ManualTimeProvider _time = new(DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
    private TestHost _host = null!;
    private PipeClient _client = null!;

    public async Task InitializeAsync()
    {
        _host = await TestHost.StartAsync(
            settings:
            [
                "ApprovalBot:Kinds:reply:Executor:Type=pull",
                "ApprovalBot:Kinds:reply:Executor:MaxAttempts=2",
                "ApprovalBot:Kinds:post:Executor:Type=webhook",
                "ApprovalBot:Kinds:post:Executor:Url=http://127.0.0.1:9/never",
                "ApprovalBot:Execution:RetryBaseSeconds=10",
            ],
            services: s => s.AddSingleton<TimeProvider>(_time),
            compose: b => b.AddApprovalJobs());
        _client = await _host.ConnectAsync();
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _host.DisposeAsync();
    }

    private Task RunCycleAsync() => _host.Services.GetRequiredService<ExecutorCycle>().RunOnceAsync();

    [Fact]
    public async Task Claim_DraftWithAsManyAttemptsAsTheRouteAllowsNow_NotHandedOutButFailed()
    {
        // Two attempts made under a larger MaxAttempts, waiting for the third; the route allows 2 now.
        await Drafts.SubmitAsync(_host.Store, "reply:spent", "no attempt left");
        Drafts.Sql(_host, "UPDATE drafts SET exec_attempts = 2, exec_error = 'the agent said: rate limited' WHERE id = 'reply:spent'");
        await _host.Store.TransitionAsync(Drafts.Approval("reply:spent", Sha.Hex("no attempt left"), _time.GetUtcNow()));
        await Drafts.ApproveAsync(_host.Store, "reply:fresh", "first attempt");

        var claim = await _client.ClaimAsync("reply", max: 10, leaseSeconds: 60);

        Assert.Equal(["reply:fresh"], claim.Claimed!.Select(c => c.Id));
        var spent = _host.Store.Get("reply:spent")!;
        Assert.Equal((DraftState.Failed, 2), (spent.State, spent.ExecAttempts));
        Assert.Equal("the agent said: rate limited; not retried: 2 attempt(s) made, and its route allows 2 now", spent.ExecError);
        Assert.DoesNotContain(_host.Store.Events("reply:spent"), e => e.Type == "execution_started");
    }

    [Fact]
    public async Task Claim_ApprovedDrafts_HandedOutWithTextKeyAndLeaseThenCompleteExecutes()
    {
        await Drafts.ApproveAsync(_host.Store, "reply:p1", "first reply", contextJson: """{"rationale":"r"}""");
        await Drafts.ApproveAsync(_host.Store, "reply:p2", "second reply");

        var claim = await _client.ClaimAsync("reply", max: 10, leaseSeconds: 60);

        Assert.True(claim.Ok, claim.Error?.Message);
        Assert.Equal(["reply:p1", "reply:p2"], claim.Claimed!.Select(c => c.Id));
        var first = claim.Claimed![0];
        Assert.Equal("first reply", first.Text);
        Assert.Equal(Sha.Hex("first reply"), first.Sha256);
        Assert.Equal(IdempotencyKey.For("reply:p1", Sha.Hex("first reply")), first.IdempotencyKey);
        Assert.Equal(1, first.Attempt);
        Assert.Equal(_time.GetUtcNow().AddSeconds(60), first.LeaseUntil);
        Assert.Equal("r", first.Context!.Value.GetProperty("rationale").GetString());
        Assert.Equal(Drafts.ApproverName, first.Decision!.ByName);
        Assert.Equal(States.Executing, _host.Store.Get("reply:p1")!.State.ToWire());
        Assert.Empty((await _client.ClaimAsync("reply")).Claimed!);

        var done = await _client.CompleteAsync("reply:p1", first.Lease, "https://x.com/status/1");

        Assert.True(done.Ok, done.Error?.Message);
        Assert.Equal(States.Executed, done.Draft!.State);
        Assert.Equal("https://x.com/status/1", done.Draft.Execution!.Result);
        Assert.Equal(["submitted", "decided", "execution_started", "executed"], _host.Store.Events("reply:p1").Select(e => e.Type));
    }

    [Fact]
    public async Task Claim_DraftWhoseStoredContextIsNotValidUnicode_HandedOutWithContextLeftOutAndItsNeighboursToo()
    {
        await Drafts.ApproveAsync(_host.Store, "reply:old-context", "old text");
        // As an older build stored it, unchecked: the JSON text holds the escape \ud800, which no JSON writer will write.
        DraftFixtures.Sql(_host.DataDirectory, """UPDATE drafts SET context = '{"rationale":"a\ud800b"}' WHERE id = 'reply:old-context'""");
        await Drafts.ApproveAsync(_host.Store, "reply:fine", "fine text", contextJson: """{"rationale":"fine"}""");

        var claim = await _client.ClaimAsync("reply", max: 10, leaseSeconds: 60);

        Assert.True(claim.Ok, claim.Error?.Message);
        Assert.Equal(["reply:old-context", "reply:fine"], claim.Claimed!.Select(c => c.Id));
        var old = claim.Claimed![0];
        Assert.Equal("old text", old.Text);
        Assert.Null(old.Context);
        Assert.Equal(DraftViews.UnreadableContext, old.ContextError);
        Assert.Equal("fine", claim.Claimed[1].Context!.Value.GetProperty("rationale").GetString());
        Assert.Null(claim.Claimed[1].ContextError);

        var done = await _client.CompleteAsync("reply:old-context", old.Lease, "https://x.com/status/2");

        Assert.True(done.Ok, done.Error?.Message);
        Assert.Equal(States.Executed, done.Draft!.State);
        Assert.Equal(DraftViews.UnreadableContext, done.Draft.ContextError);
    }

    [Fact]
    public async Task Claim_DraftWhoseStoredContextIsTooDeep_HandedOutWithContextLeftOutAndItsNeighboursToo()
    {
        await Drafts.ApproveAsync(_host.Store, "reply:deep-context", "deep text");
        // 62 levels, as a submit stored it before the depth was checked: one too many for the claim answer's writer, which
        // answered internal after the leases were committed.
        DraftFixtures.Sql(_host.DataDirectory, "UPDATE drafts SET context = '{\"a\":" + new string('[', 61) + new string(']', 61) + "}' WHERE id = 'reply:deep-context'");
        await Drafts.ApproveAsync(_host.Store, "reply:fine", "fine text", contextJson: """{"rationale":"fine"}""");

        var claim = await _client.ClaimAsync("reply", max: 10, leaseSeconds: 60);

        Assert.True(claim.Ok, claim.Error?.Message);
        Assert.Equal(["reply:deep-context", "reply:fine"], claim.Claimed!.Select(c => c.Id));
        Assert.Null(claim.Claimed![0].Context);
        Assert.Equal(DraftViews.ContextTooDeep, claim.Claimed[0].ContextError);
        Assert.Equal("fine", claim.Claimed[1].Context!.Value.GetProperty("rationale").GetString());
    }

    /// <summary>
    /// Keeps the host's own executor cycles on their interval from running from here on, and waits out one already fired
    /// (cycles never overlap), so that only the test's cycles recover expired leases. Approve with
    /// <see cref="Drafts.ApproveUnannouncedAsync"/> then: an approval through the store wakes the job at once.
    /// </summary>
    private static async Task PauseExecutorJobsAsync(TestHost host)
    {
        await (await host.Services.GetRequiredService<ISchedulerFactory>().GetScheduler()).Standby();
        await host.Services.GetRequiredService<ExecutorCycle>().RunOnceAsync();
    }

    [Fact]
    public async Task Complete_WrongLeaseOrOneTheExecutorTookBack_LeaseLostAndNothingChanged()
    {
        await Drafts.ApproveAsync(_host.Store, "reply:lost", "text");
        var claimed = Assert.Single((await _client.ClaimAsync("reply", leaseSeconds: 5)).Claimed!);

        var wrong = await _client.CompleteAsync("reply:lost", "not-the-lease", "r");
        _time.Advance(TimeSpan.FromSeconds(6));
        await RunCycleAsync();
        var taken = _host.Store.Get("reply:lost")!;
        var late = await _client.CompleteAsync("reply:lost", claimed.Lease, "r");

        Assert.Equal(ErrorCodes.LeaseLost, wrong.Error!.Code);
        Assert.Equal("lease", wrong.Error.Field);
        Assert.Equal(ErrorCodes.LeaseLost, late.Error!.Code);
        Assert.Equal("draft 'reply:lost' is not executing under this lease (it was finished, or its lease ran out and the executor took the draft back)",
            late.Error.Message);
        // Neither complete changed anything: the executor's recovery had made it unknown (a route that does not dedupe).
        var after = _host.Store.Get("reply:lost")!;
        Assert.Equal((DraftState.Unknown, taken.StateSince, null), (after.State, after.StateSince, after.ExecResult));
        Assert.DoesNotContain(_host.Store.Events("reply:lost"), e => e.Type == AttemptEvents.Executed);
    }

    /// <summary>
    /// A <c>complete</c> or <c>fail</c> that comes after <c>lease_until</c>, while the draft is still executing under that
    /// lease (recovery runs only at the executor's next cycle, up to <c>IntervalSeconds</c> later): the agent's real outcome
    /// is kept, and recovery then finds nothing to take. Before, it was refused with <c>lease_lost</c> and the next cycle
    /// requeued the draft, which was then claimed and posted again.
    /// </summary>
    [Fact]
    public async Task CompleteOrFail_AfterTheLeaseRanOutBeforeTheExecutorTookTheDraft_OutcomeKept()
    {
        await PauseExecutorJobsAsync(_host);
        await Drafts.ApproveUnannouncedAsync(_host, "reply:late-complete", "posted");
        await Drafts.ApproveUnannouncedAsync(_host, "reply:late-fail", "refused by the target");
        var claimed = (await _client.ClaimAsync("reply", leaseSeconds: 5)).Claimed!.ToDictionary(c => c.Id);
        _time.Advance(TimeSpan.FromSeconds(6));

        var complete = await _client.CompleteAsync("reply:late-complete", claimed["reply:late-complete"].Lease, "https://example.test/post/1");
        var fail = await _client.FailAsync("reply:late-fail", claimed["reply:late-fail"].Lease, "account suspended", retryable: false);
        await RunCycleAsync();

        Assert.True(complete.Ok, complete.Error?.Message);
        Assert.True(fail.Ok, fail.Error?.Message);
        var executed = _host.Store.Get("reply:late-complete")!;
        Assert.Equal((DraftState.Executed, "https://example.test/post/1"), (executed.State, executed.ExecResult));
        var failed = _host.Store.Get("reply:late-fail")!;
        Assert.Equal((DraftState.Failed, "account suspended"), (failed.State, failed.ExecError));
        Assert.DoesNotContain(_host.Store.Events("reply:late-complete"), e => e.Type == AttemptEvents.LeaseExpired);
        Assert.DoesNotContain(_host.Store.Events("reply:late-fail"), e => e.Type == AttemptEvents.LeaseExpired);
    }

    /// <summary>On a route that dedupes, an expired lease returns the draft to the queue, claimed again under the same key.</summary>
    [Fact]
    public async Task LeaseExpiredOnADedupingRoute_ReturnedToQueueReportedAndReclaimedWithSameKey()
    {
        await using var host = await DedupingHostAsync(maxAttempts: 2);
        await using var agent = await host.ConnectAsync();
        await Drafts.ApproveAsync(host.Store, "reply:expire", "text");
        var first = Assert.Single((await agent.ClaimAsync("reply", leaseSeconds: 5)).Claimed!);
        _time.Advance(TimeSpan.FromSeconds(6));

        await host.Services.GetRequiredService<ExecutorCycle>().RunOnceAsync();
        var back = host.Store.Get("reply:expire")!;
        var second = Assert.Single((await agent.ClaimAsync("reply", leaseSeconds: 5)).Claimed!);

        Assert.Equal(DraftState.Approved, back.State);
        Assert.Null(back.LeaseToken);
        Assert.Single(host.Store.Events("reply:expire"), e => e.Type == "lease_expired");
        Assert.Equal(first.IdempotencyKey, second.IdempotencyKey);
        Assert.NotEqual(first.Lease, second.Lease);
        Assert.Equal(2, second.Attempt);
        Assert.Equal(ErrorCodes.LeaseLost, (await agent.CompleteAsync("reply:expire", first.Lease, "late")).Error!.Code);
        Assert.True((await agent.CompleteAsync("reply:expire", second.Lease, "ok")).Ok);
    }

    /// <summary>
    /// On a route that does not dedupe (this class's <c>reply</c>), an agent that claimed, posted and died before its
    /// <c>complete</c> leaves a lease that runs out: handed out again, the draft would be posted twice. It becomes unknown
    /// instead, as a <c>fail</c> with <c>may_have_taken_effect</c> makes it, and is escalated for a human. Before, it went
    /// back to the queue whatever the route's <c>Idempotent</c> said.
    /// </summary>
    [Fact]
    public async Task LeaseExpiredOnARouteThatDoesNotDedupe_UnknownNotHandedOutAgainAndEscalated()
    {
        var chat = new RecordingEscalationChannel();
        await using var host = await TestHost.StartAsync(
            ["ApprovalBot:Kinds:reply:Executor:Type=pull", "ApprovalBot:Kinds:reply:Executor:MaxAttempts=3"],
            services: s => s.AddSingleton<TimeProvider>(_time).AddSingleton<IEscalationChannel>(chat),
            compose: b =>
            {
                b.AddApprovalJobs();
                b.AddReconciliation();
            });
        await using var agent = await host.ConnectAsync();
        await Drafts.ApproveAsync(host.Store, "reply:posted-then-died", "text");
        var first = Assert.Single((await agent.ClaimAsync("reply", leaseSeconds: 5)).Claimed!);
        _time.Advance(TimeSpan.FromSeconds(6));

        await host.Services.GetRequiredService<ExecutorCycle>().RunOnceAsync();
        var claimedAgain = (await agent.ClaimAsync("reply", leaseSeconds: 5)).Claimed!;
        await host.Services.GetRequiredService<Reconciler>().RunOnceAsync(default);
        var cancel = await agent.CancelAsync("reply:posted-then-died");

        Assert.Empty(claimedAgain);
        var stored = host.Store.Get("reply:posted-then-died")!;
        Assert.Equal((DraftState.Unknown, 1, null), (stored.State, stored.ExecAttempts, stored.LeaseToken));
        Assert.EndsWith("; it may or may not have taken effect", stored.ExecError, StringComparison.Ordinal);
        var expired = Assert.Single(host.Store.Events("reply:posted-then-died"), e => e.Type == AttemptEvents.LeaseExpired);
        Assert.True(AttemptEvents.SaysLeftUnknown(expired.Details), expired.Details);
        Assert.Equal(first.IdempotencyKey, LastEventDetails(host, "reply:posted-then-died", AttemptEvents.LeaseExpired).GetProperty("idempotency_key").GetString());
        const string detail = "outcome unknown (its pull lease expired without complete or fail: its agent may have posted before it stopped) " +
                              "on a route that does not dedupe; check the target, then Mark done or Retry";
        var gap = Assert.Single(chat.Sent.SelectMany(m => m.Gaps), g => g.DraftId == "reply:posted-then-died");
        Assert.Equal(($"{Gaps.Stale}/{Gaps.AwaitingHuman}", detail), (gap.Gap, gap.Detail));
        Assert.Equal([ApproverAction.Retry, ApproverAction.MarkDone, ApproverAction.Discard], gap.Actions);
        Assert.Equal((ErrorCodes.Conflict, "id"), (cancel.Error!.Code, cancel.Error.Field));
    }

    /// <summary>
    /// The approver checked the target and tapped Retry on such a draft: it is handed out again under the same key, and
    /// /orphans does not report the old expiry as a draft that went back to the queue by itself.
    /// </summary>
    [Fact]
    public async Task LeaseExpiredOnARouteThatDoesNotDedupe_ApproversRetryHandsItOutAgainUnderTheSameKey()
    {
        await using var host = await TestHost.StartAsync(
            ["ApprovalBot:Kinds:reply:Executor:Type=pull"],
            services: s => s.AddSingleton<TimeProvider>(_time).AddSingleton<IEscalationChannel>(new RecordingEscalationChannel()),
            compose: b =>
            {
                b.AddApprovalJobs();
                b.AddReconciliation();
            });
        await using var agent = await host.ConnectAsync();
        await Drafts.ApproveAsync(host.Store, "reply:retried", "text");
        var first = Assert.Single((await agent.ClaimAsync("reply", leaseSeconds: 5)).Claimed!);
        _time.Advance(TimeSpan.FromSeconds(6));
        await host.Services.GetRequiredService<ExecutorCycle>().RunOnceAsync();
        var unknownSince = host.Store.Get("reply:retried")!.StateSince;

        var retried = await host.Services.GetRequiredService<ApproverActions>().RetryAsync("reply:retried", "telegram:1001", unknownSince);
        var orphans = (await agent.ReportAsync("orphans")).Report!.Items;
        var second = Assert.Single((await agent.ClaimAsync("reply")).Claimed!);

        Assert.True(retried.Applied);
        Assert.Equal(first.IdempotencyKey, second.IdempotencyKey);
        Assert.DoesNotContain(orphans, i => i.DraftId == "reply:retried");
    }

    [Fact]
    public async Task Fail_RetryableThenFinal_BackoffThenFailed()
    {
        await Drafts.ApproveAsync(_host.Store, "reply:f", "text");
        var first = Assert.Single((await _client.ClaimAsync("reply")).Claimed!);

        var retry = await _client.FailAsync("reply:f", first.Lease, "rate limited", retryable: true);
        var tooEarly = (await _client.ClaimAsync("reply")).Claimed!;
        _time.Advance(TimeSpan.FromSeconds(10));
        var second = Assert.Single((await _client.ClaimAsync("reply")).Claimed!);
        var final = await _client.FailAsync("reply:f", second.Lease, "still rate limited", retryable: true);

        Assert.Equal(States.Approved, retry.Draft!.State);
        Assert.Empty(tooEarly);
        Assert.Equal(States.Failed, final.Draft!.State);
        Assert.Equal("still rate limited", final.Draft.Execution!.Error);
        Assert.Equal(2, _host.Store.Events("reply:f").Count(e => e.Type == "execution_failed"));
    }

    [Fact]
    public async Task Fail_NotRetryable_FailedAtOnce()
    {
        await Drafts.ApproveAsync(_host.Store, "reply:perm", "text");
        var claimed = Assert.Single((await _client.ClaimAsync("reply")).Claimed!);

        var response = await _client.FailAsync("reply:perm", claimed.Lease, "account suspended", retryable: false);

        Assert.Equal(States.Failed, response.Draft!.State);
    }

    /// <summary>A pull route that dedupes (<c>Idempotent</c>): the agent's target honours the idempotency key.</summary>
    private async Task<TestHost> DedupingHostAsync(int maxAttempts) => await TestHost.StartAsync(
        [
            "ApprovalBot:Kinds:reply:Executor:Type=pull", $"ApprovalBot:Kinds:reply:Executor:MaxAttempts={maxAttempts}",
            "ApprovalBot:Kinds:reply:Executor:Idempotent=true", "ApprovalBot:Execution:RetryBaseSeconds=10",
        ],
        services: s => s.AddSingleton<TimeProvider>(_time),
        compose: b => b.AddApprovalJobs());

    private static JsonElement LastEventDetails(TestHost host, string id, string type)
    {
        using var doc = JsonDocument.Parse(host.Store.Events(id).Last(e => e.Type == type).Details!);
        return doc.RootElement.Clone();
    }

    /// <summary>
    /// A <c>fail</c> with <c>"may_have_taken_effect":true</c>, as any agent writes it on the pipe (the .NET client's
    /// <see cref="FailRequest"/> writes the same line: <see cref="Fail_FromTheDotNetClientWithMayHaveTakenEffect_ReachesTheService"/>).
    /// </summary>
    private static async Task<Response> FailMayHaveTakenEffectAsync(PipeClient agent, ClaimedDraft claimed, string error, bool? retryable)
    {
        var request = new JsonObject { ["op"] = "fail", ["id"] = claimed.Id, ["lease"] = claimed.Lease, ["error"] = error };
        if (retryable is { } r)
        {
            request["retryable"] = r;
        }
        request["may_have_taken_effect"] = true;
        return PipeClient.ParseResponse((await agent.SendRawAsync(Encoding.UTF8.GetBytes(request.ToJsonString())))!);
    }

    private const string PullFailRefusal = "draft 'reply:maybe' is {0}: its last attempt may have taken effect (its pull executor's fail said it may have " +
        "taken effect); it cannot be withdrawn, so that a run under the same idempotency key can still record it; nothing changed";

    /// <summary>
    /// A pull agent whose own call to the target timed out cannot tell whether it posted. On a route that dedupes the draft
    /// goes back to the queue as for any retryable failure, and is claimed again under the same key, but its agent cannot
    /// withdraw it meanwhile, nor once its attempts are spent: only a run under that key can still record the post. Before,
    /// the field was refused as unknown and the agent's only way to say so was to let its lease run out.
    /// </summary>
    [Fact]
    public async Task Fail_MayHaveTakenEffectOnADedupingRoute_RetriedUnderTheSameKeyAndNeverWithdrawn()
    {
        await using var host = await DedupingHostAsync(maxAttempts: 2);
        await using var agent = await host.ConnectAsync();
        await Drafts.ApproveAsync(host.Store, "reply:maybe", "posted, perhaps");
        var first = Assert.Single((await agent.ClaimAsync("reply")).Claimed!);

        var failed = await FailMayHaveTakenEffectAsync(agent, first, "the target did not answer within 10 s", retryable: true);
        var cancelWhileQueued = await agent.CancelAsync("reply:maybe", "superseded");
        _time.Advance(TimeSpan.FromSeconds(10));
        var second = Assert.Single((await agent.ClaimAsync("reply")).Claimed!);
        var final = await FailMayHaveTakenEffectAsync(agent, second, "no answer again", retryable: true);
        var eventsBefore = host.Store.Events("reply:maybe").Count;
        var cancelOnceFailed = await agent.CancelAsync("reply:maybe", "superseded");

        Assert.True(failed.Ok, failed.Error?.Message);
        Assert.Equal(States.Approved, failed.Draft!.State);
        Assert.Equal("the target did not answer within 10 s", failed.Draft.Execution!.Error);
        Assert.Equal(new ProtocolError(ErrorCodes.Conflict, string.Format(CultureInfo.InvariantCulture, PullFailRefusal, "approved"), "id"), cancelWhileQueued.Error);
        Assert.Equal((first.IdempotencyKey, 2), (second.IdempotencyKey, second.Attempt));
        Assert.Equal(States.Failed, final.Draft!.State);
        Assert.Equal(new ProtocolError(ErrorCodes.Conflict, string.Format(CultureInfo.InvariantCulture, PullFailRefusal, "failed"), "id"), cancelOnceFailed.Error);
        Assert.Equal(DraftState.Failed, host.Store.Get("reply:maybe")!.State);
        Assert.Equal(eventsBefore, host.Store.Events("reply:maybe").Count);
        var events = host.Store.Events("reply:maybe").Where(e => e.Type == AttemptEvents.ExecutionFailed).ToList();
        Assert.Equal(2, events.Count);
        Assert.All(events, e => Assert.Equal("pull:reply", e.Actor));
        var last = LastEventDetails(host, "reply:maybe", AttemptEvents.ExecutionFailed);
        Assert.True(last.GetProperty(AttemptEvents.MayHaveTakenEffect).GetBoolean());
        Assert.True(last.GetProperty("final").GetBoolean());
    }

    /// <summary>Not retryable on a route that dedupes: failed at once, as a push route's redirect, and still never withdrawn.</summary>
    [Fact]
    public async Task Fail_MayHaveTakenEffectNotRetryableOnADedupingRoute_FailedAtOnceAndNotWithdrawn()
    {
        await using var host = await DedupingHostAsync(maxAttempts: 3);
        await using var agent = await host.ConnectAsync();
        await Drafts.ApproveAsync(host.Store, "reply:maybe", "posted, perhaps");
        var claimed = Assert.Single((await agent.ClaimAsync("reply")).Claimed!);

        var failed = await FailMayHaveTakenEffectAsync(agent, claimed, "the target answered 302", retryable: null);
        var cancel = await agent.CancelAsync("reply:maybe");

        Assert.Equal(States.Failed, failed.Draft!.State);
        Assert.Equal(new ProtocolError(ErrorCodes.Conflict, string.Format(CultureInfo.InvariantCulture, PullFailRefusal, "failed"), "id"), cancel.Error);
        var details = LastEventDetails(host, "reply:maybe", AttemptEvents.ExecutionFailed);
        Assert.True(details.GetProperty(AttemptEvents.MayHaveTakenEffect).GetBoolean());
        Assert.False(details.GetProperty("retryable").GetBoolean());
    }

    /// <summary>
    /// On a route that does not dedupe (this class's <c>reply</c>), claiming it again could post twice: the draft becomes
    /// unknown, as a push route's run cut off does, whatever <c>retryable</c> says; it is handed out no more, not requeued by
    /// the executor after the backoff, and escalated for a human with Retry / Mark done / Discard and the agent's own words.
    /// </summary>
    [Fact]
    public async Task Fail_MayHaveTakenEffectOnARouteThatDoesNotDedupe_UnknownAndEscalatedForAHuman()
    {
        var chat = new RecordingEscalationChannel();
        await using var host = await TestHost.StartAsync(
            ["ApprovalBot:Kinds:reply:Executor:Type=pull", "ApprovalBot:Kinds:reply:Executor:MaxAttempts=3", "ApprovalBot:Execution:RetryBaseSeconds=10"],
            services: s => s.AddSingleton<TimeProvider>(_time).AddSingleton<IEscalationChannel>(chat),
            compose: b =>
            {
                b.AddApprovalJobs();
                b.AddReconciliation();
            });
        await using var agent = await host.ConnectAsync();
        await Drafts.ApproveAsync(host.Store, "reply:maybe", "posted, perhaps");
        var claimed = Assert.Single((await agent.ClaimAsync("reply")).Claimed!);

        var failed = await FailMayHaveTakenEffectAsync(agent, claimed, "the target did not answer within 10 s", retryable: true);
        _time.Advance(TimeSpan.FromMinutes(5));
        await host.Services.GetRequiredService<ExecutorCycle>().RunOnceAsync();
        var claimedAgain = (await agent.ClaimAsync("reply")).Claimed!;
        await host.Services.GetRequiredService<Reconciler>().RunOnceAsync(default);
        var cancel = await agent.CancelAsync("reply:maybe");

        Assert.True(failed.Ok, failed.Error?.Message);
        Assert.Equal(States.Unknown, failed.Draft!.State);
        Assert.Equal("the target did not answer within 10 s; it may or may not have taken effect", failed.Draft.Execution!.Error);
        Assert.Empty(claimedAgain);
        var stored = host.Store.Get("reply:maybe")!;
        Assert.Equal((DraftState.Unknown, 1, null), (stored.State, stored.ExecAttempts, stored.LeaseToken));
        var unknown = Assert.Single(host.Store.Events("reply:maybe"), e => e.Type == AttemptEvents.ExecutionUnknown);
        Assert.Equal("pull:reply", unknown.Actor);
        Assert.Equal("the target did not answer within 10 s", LastEventDetails(host, "reply:maybe", AttemptEvents.ExecutionUnknown).GetProperty("error").GetString());
        Assert.DoesNotContain(host.Store.Events("reply:maybe"), e => e.Type == AttemptEvents.ExecutionFailed);
        const string detail = "outcome unknown (its pull executor could not tell whether it took effect: the target did not answer within 10 s) " +
                              "on a route that does not dedupe; check the target, then Mark done or Retry";
        var gap = Assert.Single(chat.Sent.SelectMany(m => m.Gaps), g => g.DraftId == "reply:maybe");
        Assert.Equal(($"{Gaps.Stale}/{Gaps.AwaitingHuman}", detail), (gap.Gap, gap.Detail));
        Assert.Equal([ApproverAction.Retry, ApproverAction.MarkDone, ApproverAction.Discard], gap.Actions);
        var item = Assert.Single((await agent.ReportAsync("stale")).Report!.Items, i => i.DraftId == "reply:maybe");
        Assert.Equal((Gaps.AwaitingHuman, States.Unknown, detail), (item.Gap, item.State, item.Detail));
        Assert.Equal((ErrorCodes.Conflict, "id"), (cancel.Error!.Code, cancel.Error.Field));
    }

    /// <summary>The approver's Retry on such an unknown draft hands it out again, under the same key.</summary>
    [Fact]
    public async Task Fail_MayHaveTakenEffectOnARouteThatDoesNotDedupe_ApproversRetryHandsItOutAgainUnderTheSameKey()
    {
        await Drafts.ApproveAsync(_host.Store, "reply:maybe", "posted, perhaps");
        var first = Assert.Single((await _client.ClaimAsync("reply")).Claimed!);
        Assert.True((await FailMayHaveTakenEffectAsync(_client, first, "timed out", retryable: null)).Ok);
        var unknownSince = _host.Store.Get("reply:maybe")!.StateSince;

        var retried = await _host.Services.GetRequiredService<ApproverActions>().RetryAsync("reply:maybe", "telegram:1001", unknownSince);
        var second = Assert.Single((await _client.ClaimAsync("reply")).Claimed!);

        Assert.True(retried.Applied);
        Assert.Equal(first.IdempotencyKey, second.IdempotencyKey);
    }

    /// <summary>
    /// A claim still out while the operator moved its kind from a pull route that does not dedupe to a command route that
    /// does, and restarted: the agent's fail saying its post may have gone out is judged by the route the attempt was
    /// started on, as a lease that expires is. The command route's key does not reach what the agent did, so the draft
    /// becomes unknown with a reason that says so, not approved again for the command route to post a second time.
    /// Before, Finish read only the kind's route now, which dedupes, and the command ran.
    /// </summary>
    [Fact]
    public async Task Fail_MayHaveTakenEffect_ClaimMadeBeforeTheKindMovedToADedupingCommandRoute_UnknownNotRunOnTheCommandRoute()
    {
        using var data = new TempDirectory();
        using var script = new RouteScript();
        string lease;
        string[] pull = ["ApprovalBot:Kinds:agent:MaxLength=100", "ApprovalBot:Kinds:agent:Executor:Type=pull"];
        await using (var before = await TestHost.StartAsync(settings: pull, dataDirectory: data.Path, compose: b => b.AddApprovalJobs()))
        {
            await Drafts.ApproveAsync(before.Store, "agent:posted-maybe", "posted by the agent, maybe", "agent");
            await using var agent = await before.ConnectAsync();
            lease = Assert.Single((await agent.ClaimAsync("agent", max: 1, leaseSeconds: 600)).Claimed!).Lease;
        }
        await using var after = await TestHost.StartAsync(settings: [.. script.Settings("agent", idempotent: true)], dataDirectory: data.Path,
            compose: b => b.AddApprovalJobs());
        Response fail;
        await using (var agent = await after.ConnectAsync())
        {
            fail = await agent.FailAsync(new FailRequest
            {
                Id = "agent:posted-maybe", Lease = lease, Error = "my call to the target timed out", Retryable = true, MayHaveTakenEffect = true,
            });
        }
        Drafts.Sql(after, "UPDATE drafts SET exec_next_at = NULL WHERE id = 'agent:posted-maybe'");
        await after.Services.GetRequiredService<ExecutorCycle>().RunOnceAsync();

        Assert.True(fail.Ok, fail.Error?.Message);
        Assert.Empty(script.Runs());
        var d = after.Store.Get("agent:posted-maybe")!;
        const string reason = "it was started on a pull route, and its kind's route is command now, whose idempotency key may not reach what it did";
        Assert.Equal((DraftState.Unknown, $"my call to the target timed out; {reason}; it may or may not have taken effect"), (d.State, d.ExecError));
        Assert.Equal(reason, LastEventDetails(after, "agent:posted-maybe", AttemptEvents.ExecutionUnknown).GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Fail_FromTheDotNetClientWithMayHaveTakenEffect_ReachesTheService()
    {
        await Drafts.ApproveAsync(_host.Store, "reply:typed-client", "posted, perhaps");
        var claimed = Assert.Single((await _client.ClaimAsync("reply")).Claimed!);

        var failed = await _client.FailAsync(new FailRequest { Id = claimed.Id, Lease = claimed.Lease, Error = "timed out", Retryable = true, MayHaveTakenEffect = true });

        Assert.Equal(States.Unknown, failed.Draft!.State);
    }

    public static TheoryData<string, string> DefiniteFailures => new()
    {
        // may_have_taken_effect as sent: left out, false, or null (as retryable takes null: left out)
        { "left out", "" },
        { "false", ""","may_have_taken_effect":false""" },
        { "null", ""","may_have_taken_effect":null""" },
    };

    /// <summary>Without the field, or with it false, a fail is the definite answer it always was: retried, and withdrawable.</summary>
    [Theory]
    [MemberData(nameof(DefiniteFailures))]
    public async Task Fail_MayHaveTakenEffectFalseOrLeftOut_RetriedAsBeforeAndRecordedAsNotTakenEffect(string name, string field)
    {
        _ = name;
        await Drafts.ApproveAsync(_host.Store, "reply:definite", "not posted");
        var claimed = Assert.Single((await _client.ClaimAsync("reply")).Claimed!);

        var response = PipeClient.ParseResponse((await _client.SendRawAsync(Encoding.UTF8.GetBytes(
            $$"""{"op":"fail","id":"reply:definite","lease":"{{claimed.Lease}}","error":"the site said no","retryable":true{{field}}}""")))!);

        Assert.True(response.Ok, response.Error?.Message);
        Assert.Equal(States.Approved, response.Draft!.State);
        var details = LastEventDetails(_host, "reply:definite", AttemptEvents.ExecutionFailed);
        Assert.False(details.GetProperty(AttemptEvents.MayHaveTakenEffect).GetBoolean());
        Assert.False(details.GetProperty("final").GetBoolean());
        Assert.True((await _client.CancelAsync("reply:definite")).Ok);
    }

    /// <summary>A may_have_taken_effect that is not a boolean, sent under the real lease: refused, and the lease still holds.</summary>
    [Theory]
    [InlineData("\"true\"")]
    [InlineData("1")]
    [InlineData("[]")]
    [InlineData("{}")]
    public async Task Fail_MayHaveTakenEffectNotABoolean_InvalidNamingItAndNothingChanged(string value)
    {
        await Drafts.ApproveAsync(_host.Store, "reply:typed", "text");
        var claimed = Assert.Single((await _client.ClaimAsync("reply")).Claimed!);
        var before = _host.Store.Get("reply:typed")!;
        var eventsBefore = _host.Store.Events("reply:typed").Count;

        var response = PipeClient.ParseResponse((await _client.SendRawAsync(Encoding.UTF8.GetBytes(
            $$"""{"op":"fail","id":"reply:typed","lease":"{{claimed.Lease}}","error":"e","may_have_taken_effect":{{value}}}""")))!);

        Assert.Equal(new ProtocolError(ErrorCodes.Invalid, "wrong type: expected a boolean (true or false)", "may_have_taken_effect"), response.Error);
        Assert.Equal(before, _host.Store.Get("reply:typed"));
        Assert.Equal(eventsBefore, _host.Store.Events("reply:typed").Count);
        Assert.True((await _client.CompleteAsync("reply:typed", claimed.Lease, "posted")).Ok);
    }

    [Fact]
    public async Task Claim_TextVanished_BlockedAndNotHandedOut()
    {
        await Drafts.SubmitAsync(_host.Store, "reply:gone", "text");
        Drafts.Sql(_host, "UPDATE drafts SET text = NULL WHERE id = 'reply:gone'");
        await _host.Store.TransitionAsync(Drafts.Approval("reply:gone", Sha.Hex("text"), DateTimeOffset.UtcNow));
        await Drafts.ApproveAsync(_host.Store, "reply:fine", "fine");

        var claimed = (await _client.ClaimAsync("reply")).Claimed!;

        Assert.Equal(["reply:fine"], claimed.Select(c => c.Id));
        Assert.Equal(DraftState.Blocked, _host.Store.Get("reply:gone")!.State);
        Assert.Contains("\"stage\":\"claim\"", Assert.Single(_host.Store.Events("reply:gone"), e => e.Type == "handoff_blocked").Details, StringComparison.Ordinal);
    }

    public static TheoryData<string, string, string> BadRequests => new()
    {
        { """{"op":"claim"}""", ErrorCodes.Invalid, "kind" },
        { """{"op":"claim","kind":7}""", ErrorCodes.Invalid, "kind" },
        { """{"op":"claim","kind":"nope"}""", ErrorCodes.UnknownKind, "kind" },
        { """{"op":"claim","kind":"post"}""", ErrorCodes.Invalid, "kind" },
        { """{"op":"claim","kind":"reply","max":0}""", ErrorCodes.Invalid, "max" },
        { """{"op":"claim","kind":"reply","max":101}""", ErrorCodes.Invalid, "max" },
        { """{"op":"claim","kind":"reply","max":"5"}""", ErrorCodes.Invalid, "max" },
        { """{"op":"claim","kind":"reply","lease_seconds":4}""", ErrorCodes.Invalid, "lease_seconds" },
        { """{"op":"claim","kind":"reply","lease_seconds":3601}""", ErrorCodes.Invalid, "lease_seconds" },
        { """{"op":"claim","kind":"reply","extra":1}""", ErrorCodes.Invalid, "extra" },
        { """{"op":"complete","lease":"x"}""", ErrorCodes.Invalid, "id" },
        { """{"op":"complete","id":"reply:bad"}""", ErrorCodes.Invalid, "lease" },
        { """{"op":"complete","id":"reply:bad","lease":""}""", ErrorCodes.Invalid, "lease" },
        { """{"op":"complete","id":"reply:bad","lease":5}""", ErrorCodes.Invalid, "lease" },
        { """{"op":"complete","id":"reply:bad","lease":"x","result":"r","more":true}""", ErrorCodes.Invalid, "more" },
        { """{"op":"complete","id":"reply:bad","lease":"x","result":{}}""", ErrorCodes.Invalid, "result" },
        { """{"op":"complete","id":"reply:bad","lease":"not-the-lease"}""", ErrorCodes.LeaseLost, "lease" },
        { """{"op":"complete","id":"reply:none","lease":"x"}""", ErrorCodes.NotFound, "id" },
        { """{"op":"fail","id":"reply:bad","lease":"x"}""", ErrorCodes.Invalid, "error" },
        { """{"op":"fail","id":"reply:bad","lease":"x","error":""}""", ErrorCodes.Invalid, "error" },
        { """{"op":"fail","id":"reply:bad","lease":"x","error":"e","retryable":"yes"}""", ErrorCodes.Invalid, "retryable" },
        { """{"op":"fail","id":"reply:bad","lease":"x","error":"e","why":1}""", ErrorCodes.Invalid, "why" },
        { """{"op":"fail","id":"reply:bad","lease":"x","error":"e","may_have_taken_effect":"true"}""", ErrorCodes.Invalid, "may_have_taken_effect" },
        { """{"op":"fail","id":"reply:bad","lease":"x","error":"e","may_have_taken_effect":1}""", ErrorCodes.Invalid, "may_have_taken_effect" },
        { """{"op":"fail","id":"reply:bad","lease":"not-the-lease","error":"e"}""", ErrorCodes.LeaseLost, "lease" },
        // Text the card and the console log would show as sent: checked before the lease, as a cancel's reason is.
        { """{"op":"complete","id":"reply:bad","lease":"x","result":"done \u202e rtl \u0007 bell \u0000 nul\n<b>x</b>"}""", ErrorCodes.Invalid, "result" },
        { """{"op":"complete","id":"reply:bad","lease":"x","result":"posted\n[10:00:00 INF] Executed reply:other"}""", ErrorCodes.Invalid, "result" },
        { """{"op":"complete","id":"reply:bad","lease":"x","result":"a\u2028b"}""", ErrorCodes.Invalid, "result" },
        { """{"op":"complete","id":"reply:bad","lease":"x","result":"\u200b\u2060"}""", ErrorCodes.Invalid, "result" },
        { """{"op":"complete","id":"reply:bad","lease":"x","result":""}""", ErrorCodes.Invalid, "result" },
        { """{"op":"fail","id":"reply:bad","lease":"x","error":"\u200b\u001b[31m"}""", ErrorCodes.Invalid, "error" },
        { """{"op":"fail","id":"reply:bad","lease":"x","error":"timed out\r\nsecond line"}""", ErrorCodes.Invalid, "error" },
        { """{"op":"fail","id":"reply:bad","lease":"x","error":"no \u202e way"}""", ErrorCodes.Invalid, "error" },
        { """{"op":"fail","id":"reply:bad","lease":"x","error":"tab\there"}""", ErrorCodes.Invalid, "error" },
        { """{"op":"fail","id":"reply:bad","lease":"x","error":" "}""", ErrorCodes.Invalid, "error" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task PullOps_BadInput_RefusedWithCodeAndFieldAndNothingChanged(string request, string code, string field)
    {
        await Drafts.ApproveAsync(_host.Store, "reply:bad", "text");
        Assert.Single((await _client.ClaimAsync("reply")).Claimed!);
        var before = _host.Store.Get("reply:bad")!;
        var eventsBefore = _host.Store.Events("reply:bad").Count;

        var response = PipeClient.ParseResponse((await _client.SendRawAsync(Encoding.UTF8.GetBytes(request)))!);

        Assert.False(response.Ok);
        Assert.Equal(code, response.Error!.Code);
        Assert.Equal(field, response.Error.Field);
        Assert.Equal(before, _host.Store.Get("reply:bad"));
        Assert.Equal(eventsBefore, _host.Store.Events("reply:bad").Count);
    }

    public static TheoryData<string, string, string> WrongTypes => new()
    {
        // request, expected field, expected message
        { """{"op":"claim","kind":"reply","max":"5"}""", "max", "wrong type: expected an integer between 1 and 100" },
        { """{"op":"claim","kind":"reply","lease_seconds":1.5}""", "lease_seconds", "must be an integer between 5 and 3600 (no fraction or exponent)" },
        { """{"op":"claim","kind":"reply","lease_seconds":99999999999}""", "lease_seconds", "must be between 5 and 3600" },
        { """{"op":"complete","id":"reply:bad","lease":"x","result":{}}""", "result", "wrong type: expected a string" },
        { """{"op":"fail","id":"reply:bad","lease":"x","error":"e","retryable":"yes"}""", "retryable", "wrong type: expected a boolean (true or false)" },
        { """{"op":"fail","id":"reply:bad","lease":"x","error":["e"]}""", "error", "wrong type: expected a string" },
        { """{"op":"fail","id":"reply:bad","lease":"x","error":"e","may_have_taken_effect":"yes"}""", "may_have_taken_effect", "wrong type: expected a boolean (true or false)" },
        { """{"op":"fail","id":"reply:bad","lease":"x","error":"e","may_have_taken_effect":0}""", "may_have_taken_effect", "wrong type: expected a boolean (true or false)" },
    };

    [Theory]
    [MemberData(nameof(WrongTypes))]
    public async Task PullOps_WrongType_MessageNamesTheTypeTheFieldTakes(string request, string field, string message)
    {
        var response = PipeClient.ParseResponse((await _client.SendRawAsync(Encoding.UTF8.GetBytes(request)))!);

        Assert.Equal(ErrorCodes.Invalid, response.Error!.Code);
        Assert.Equal(field, response.Error.Field);
        Assert.Equal(message, response.Error.Message);
    }

    public static TheoryData<string, string, string> TextTheCardCannotShow => new()
    {
        // field and value as sent (JSON), expected message
        { "result", "\"done \\u202e rtl \\u0007 bell\"", "contains the control character U+0007 at index 11; a result takes no control characters" },
        { "result", "\"posted\\nsecond\"", "contains the control character U+000A at index 6; a result takes no control characters" },
        { "result", "\"done \\u202e rtl\"", "contains the bidirectional control U+202E at index 5; a result takes none (it could reorder what the card shows)" },
        { "result", "\"\"", "must not be empty (leave result out to give none)" },
        { "error", "\"\\u200b\\u001b[31m\"", "contains the control character U+001B at index 1; an error takes no control characters" },
        { "error", "\"\\u200b\\u2060\"", "has no visible character: only whitespace and invisible characters such as U+200B at index 0" },
        { "error", "\"a\\u2029b\"", "contains the paragraph separator U+2029 at index 1; an error takes no line breaks" },
    };

    /// <summary>
    /// An executor's result or error is shown on the approver's card and written to the console log as sent: one that could
    /// forge a line of either, reorder it, or show nothing is refused under the real lease, and the lease still holds.
    /// </summary>
    [Theory]
    [MemberData(nameof(TextTheCardCannotShow))]
    public async Task CompleteOrFail_TextTheCardOrLogCannotShow_InvalidSayingWhyAndNothingChanged(string field, string value, string message)
    {
        await Drafts.ApproveAsync(_host.Store, "reply:shown", "text");
        var claimed = Assert.Single((await _client.ClaimAsync("reply")).Claimed!);
        var before = _host.Store.Get("reply:shown")!;
        var eventsBefore = _host.Store.Events("reply:shown").Count;
        var line = field == "result"
            ? $$"""{"op":"complete","id":"reply:shown","lease":"{{claimed.Lease}}","result":{{value}}}"""
            : $$"""{"op":"fail","id":"reply:shown","lease":"{{claimed.Lease}}","error":{{value}},"retryable":true}""";

        var response = PipeClient.ParseResponse((await _client.SendRawAsync(Encoding.UTF8.GetBytes(line)))!);

        Assert.Equal(new ProtocolError(ErrorCodes.Invalid, message, field), response.Error);
        Assert.Equal(before, _host.Store.Get("reply:shown"));
        Assert.Equal(eventsBefore, _host.Store.Events("reply:shown").Count);
        Assert.True((await _client.CompleteAsync("reply:shown", claimed.Lease, "posted \u05e9\u05dc\u05d5\u05dd (right to left is fine)")).Ok);
    }

    [Fact]
    public async Task Complete_ResultTooLong_InvalidResult()
    {
        await Drafts.ApproveAsync(_host.Store, "reply:long", "text");
        var claimed = Assert.Single((await _client.ClaimAsync("reply")).Claimed!);

        var response = await _client.CompleteAsync("reply:long", claimed.Lease, new string('r', AttemptOutcome.MaxResultChars + 1));

        Assert.Equal("result", response.Error!.Field);
        Assert.Equal(DraftState.Executing, _host.Store.Get("reply:long")!.State);
    }
}
