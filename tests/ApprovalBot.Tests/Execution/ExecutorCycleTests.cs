using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Execution;
using ApprovalBot.Execution.Routes;
using ApprovalBot.Tests.Infrastructure;
using ApprovalBot.Tests.Telegram;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Quartz;

namespace ApprovalBot.Tests.Execution;

public sealed class ExecutorCycleTests
{
    private static Task<TestHost> StartAsync(IEnumerable<string> settings, TimeProvider? time = null, CapturedLogs? logs = null, IExecutorCycleListener? listener = null) =>
        TestHost.StartAsync(
            settings: settings,
            services: s =>
            {
                if (time is not null) s.AddSingleton(time);
                if (logs is not null) s.AddSingleton<ILoggerProvider>(logs);
                if (listener is not null) s.AddSingleton(listener);
            },
            compose: b => b.AddApprovalJobs());

    private static ExecutorCycle Cycle(TestHost host) => host.Services.GetRequiredService<ExecutorCycle>();

    /// <summary>Each log line that names a draft, with the draft's state in the store at the moment the line was written.</summary>
    private sealed class StoreStateAtLogTime : ILoggerProvider
    {
        public DraftStore? Store { get; set; }

        public ConcurrentQueue<(string? EventName, LogLevel Level, string DraftId, DraftState? State, string Message)> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void Dispose()
        {
        }

        private sealed class Logger(StoreStateAtLogTime owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (owner.Store is { } store && state is IReadOnlyList<KeyValuePair<string, object?>> pairs
                    && pairs.FirstOrDefault(p => p.Key == "DraftId").Value is string id)
                {
                    owner.Lines.Enqueue((eventId.Name, logLevel, id, store.Get(id)?.State, formatter(state, exception)));
                }
            }
        }
    }

    /// <summary>
    /// The route ran, then the store refused the outcome's write for a reason of its own (not the store being away: here a
    /// trigger that refuses the draft's move to executed). The outcome is in the log at once and the draft is left alone,
    /// not re-run; the next cycle tries the write once more, and when that fails too the draft is made unknown with the
    /// outcome in its error, for a human to settle. Before, the given-up draft went to recovery, which on a route that
    /// dedupes queued it again: the route ran again, and again, until the draft ended failed, with a reason that hid the
    /// success.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task RunOnce_OutcomeWriteRefusedTwice_LoggedNotRerunThenUnknownWithTheOutcome(bool idempotent)
    {
        using var route = new RouteScript();
        var logs = new CapturedLogs();
        const string id = "reply:refused-outcome";
        // Only the test's cycles run: none fired by Quartz, and the approval does not wake the executor.
        await using var host = await TestHost.StartAsync([.. route.Settings("reply", idempotent: idempotent), "ApprovalBot:Execution:IntervalSeconds=3600"],
            services: s =>
            {
                s.AddSingleton<ILoggerProvider>(logs);
                s.Configure<QuartzHostedServiceOptions>(o => o.StartDelay = TimeSpan.FromHours(1));
            },
            compose: b => b.AddApprovalJobs());
        Drafts.Sql(host, "CREATE TRIGGER test_refuse_executed BEFORE UPDATE OF state ON drafts WHEN NEW.state = 'executed' " +
            "BEGIN SELECT RAISE(ABORT, 'test: the store refuses the outcome'); END;");
        await Drafts.ApproveUnannouncedAsync(host, id, "posted, not recorded");

        await Cycle(host).RunOnceAsync();

        Assert.Equal(DraftState.Executing, host.Store.Get(id)!.State);
        var notRecorded = Assert.Single(logs.Entries, e => e.EventId.Name == "ExecutionOutcomeNotRecorded");
        Assert.Contains($"attempt 1 succeeded (https://example.test/{id}) but the store could not record it: SqliteException", notRecorded.Message);
        Assert.Contains("test: the store refuses the outcome", notRecorded.Message);

        await Cycle(host).RunOnceAsync();

        var draft = host.Store.Get(id)!;
        Assert.Equal(DraftState.Unknown, draft.State);
        Assert.StartsWith($"attempt 1 succeeded (https://example.test/{id}) but its outcome could not be recorded (SqliteException: ", draft.ExecError);
        Assert.EndsWith(ExecutionLedger.UnknownNote, draft.ExecError);
        var givenUp = Assert.Single(logs.Entries, e => e.EventId.Name == "ExecutionOutcomeGivenUp");
        Assert.Equal(LogLevel.Error, givenUp.Level);
        Assert.Contains($"https://example.test/{id}", givenUp.Message);

        await Cycle(host).RunOnceAsync();

        Assert.Equal(DraftState.Unknown, host.Store.Get(id)!.State);
        Assert.Single(route.Runs());
        Assert.Single(route.Effects());
    }

    /// <summary>
    /// A run's outcome is in the log before the store records it: should the service be killed between the run's end and
    /// that write, the draft becomes unknown, and the log line (the post's URL, or the exit code and stderr) is what lets the
    /// operator settle it. Before, the outcome was logged only after the write, so such a kill left nothing.
    /// </summary>
    [Fact]
    public async Task RunOnce_AttemptEnds_ItsOutcomeIsLoggedBeforeTheStoreRecordsIt()
    {
        using var route = new RouteScript();
        var logs = new StoreStateAtLogTime();
        await using var host = await TestHost.StartAsync(route.Settings("reply"), services: s => s.AddSingleton<ILoggerProvider>(logs),
            compose: b => b.AddApprovalJobs());
        logs.Store = host.Store;
        await Drafts.ApproveAsync(host.Store, "reply:logged", "posted");

        await Cycle(host).RunOnceAsync();

        Assert.Equal(DraftState.Executed, host.Store.Get("reply:logged")!.State);
        var line = Assert.Single(logs.Lines, l => l.DraftId == "reply:logged" && l.State == DraftState.Executing
            && l.Message.Contains("https://example.test/reply:logged", StringComparison.Ordinal));
        Assert.Equal(("ExecutionAttemptEnded", LogLevel.Information), (line.EventName, line.Level));
    }

    /// <summary>
    /// A command run cut off by a crash (no build recorded its end), after which the operator moved the kind to a pull route
    /// whose agent's target dedupes: the run is judged by how it was started (its execution_started names the command
    /// route), so it is an interrupted run whose sink no key reaches, and becomes unknown. Before, every executing draft of
    /// a kind now pull was taken for an expired pull lease and requeued for a pull agent: a second post.
    /// </summary>
    [Fact]
    public async Task RunOnce_CommandRunCutOffThenKindMovedToADedupingPullRoute_UnknownNotHandedOut()
    {
        using var data = new TempDirectory();
        var command = new ExecutorRouteOptions { Type = "command", Command = ["/bin/true"] };
        await using (var before = await TestHost.StartAsync(dataDirectory: data.Path))
        {
            await Drafts.ApproveAsync(before.Store, "reply:cut", "posted by a command, perhaps");
            var begin = await before.Store.WriteAsync(ctx => ExecutionLedger.Begin(ctx, "reply:cut", "executor:command", command, TimeSpan.Zero, "execute"));
            Assert.NotNull(begin.Started);
        }
        await using var after = await TestHost.StartAsync(
            ["ApprovalBot:Kinds:reply:Executor:Type=pull", "ApprovalBot:Kinds:reply:Executor:Idempotent=true"],
            dataDirectory: data.Path, compose: b => b.AddApprovalJobs());
        await using var agent = await after.ConnectAsync();

        await Cycle(after).RunOnceAsync();
        var claimed = (await agent.ClaimAsync("reply")).Claimed!;

        Assert.Empty(claimed);
        Assert.Equal(DraftState.Unknown, after.Store.Get("reply:cut")!.State);
        var events = after.Store.Events("reply:cut");
        Assert.DoesNotContain(events, e => e.Type == AttemptEvents.LeaseExpired);
        var interrupted = Assert.Single(events, e => e.Type == AttemptEvents.ExecutionInterrupted);
        Assert.Equal("command", AttemptEvents.RouteOf(interrupted.Details));
        Assert.True(AttemptEvents.SaysLeftUnknown(interrupted.Details), interrupted.Details);
    }

    /// <summary>
    /// A command run cut off by a crash while its push lease (the route's timeout twice, plus slack) still ran, after which
    /// the operator moved the kind to pull: the first cycle after the restart recovers it (unknown), as it would have on
    /// the command route. Before, recovery passed over every draft of a pull kind whose lease still ran, taking the push
    /// lease for a claim's, and the draft stayed executing, neither claimable nor settled, until that lease ran out.
    /// </summary>
    [Fact]
    public async Task FirstCycle_CommandRunCutOffThenKindMovedToPullWhileItsLeaseRuns_RecoveredAtOnce()
    {
        using var data = new TempDirectory();
        var command = new ExecutorRouteOptions { Type = "command", Command = ["/bin/true"], TimeoutSeconds = 3600 };
        await using (var before = await TestHost.StartAsync(dataDirectory: data.Path))
        {
            await Drafts.ApproveAsync(before.Store, "reply:cut-leased", "posted by a command, perhaps");
            var begin = await before.Store.WriteAsync(ctx => ExecutionLedger.Begin(ctx, "reply:cut-leased", "executor:command", command,
                command.Timeout * 2 + TimeSpan.FromSeconds(30), "execute"));
            Assert.NotNull(begin.Started);
        }
        await using var after = await TestHost.StartAsync(
            ["ApprovalBot:Kinds:reply:Executor:Type=pull", "ApprovalBot:Kinds:reply:Executor:Idempotent=true"],
            dataDirectory: data.Path, compose: b => b.AddApprovalJobs());

        await Cycle(after).RunOnceAsync();

        var draft = after.Store.Get("reply:cut-leased")!;
        Assert.Equal(DraftState.Unknown, draft.State);
        Assert.Null(draft.LeaseToken);
        var interrupted = Assert.Single(after.Store.Events("reply:cut-leased"), e => e.Type == AttemptEvents.ExecutionInterrupted);
        Assert.Equal("command", AttemptEvents.RouteOf(interrupted.Details));
    }

    /// <summary>
    /// A pull agent's claim whose lease still runs is its agent's, at the first cycle after a start as at any other: the
    /// first cycles' look past pull leases (for push runs a kind's move to pull left) never takes a claim for one.
    /// </summary>
    [Fact]
    public async Task FirstCycle_PullClaimWhoseLeaseRuns_LeftToItsAgent()
    {
        using var data = new TempDirectory();
        var pull = new ExecutorRouteOptions { Type = "pull" };
        await using (var before = await TestHost.StartAsync(dataDirectory: data.Path))
        {
            await Drafts.ApproveAsync(before.Store, "reply:claimed", "claimed by an agent");
            Assert.NotNull((await before.Store.WriteAsync(ctx => ExecutionLedger.Begin(ctx, "reply:claimed", "pull:reply", pull, TimeSpan.FromHours(1), "claim"))).Started);
        }
        await using var after = await TestHost.StartAsync(["ApprovalBot:Kinds:reply:Executor:Type=pull"], dataDirectory: data.Path,
            compose: b => b.AddApprovalJobs());

        var result = await Cycle(after).RunOnceAsync();

        Assert.Equal(0, result.Recovered);
        Assert.Equal(DraftState.Executing, after.Store.Get("reply:claimed")!.State);
    }

    /// <summary>
    /// An attempt that may have taken effect on a route that dedupes left the draft for a retry under the same key; then
    /// the operator set <c>Idempotent: false</c>. The first cycle after the start makes the draft unknown, not at its retry
    /// time and never by running it. Before, the retry ran blindly on a sink that does not dedupe.
    /// </summary>
    [Fact]
    public async Task FirstCycle_RetryLeftByADedupingRouteThatNoLongerDedupes_UnknownNotRun()
    {
        using var data = new TempDirectory();
        using var route = new RouteScript();
        var deduping = new ExecutorRouteOptions { Type = "command", Command = ["/bin/true"], Idempotent = true, MaxAttempts = 3 };
        await using (var before = await TestHost.StartAsync(dataDirectory: data.Path))
        {
            await Drafts.ApproveAsync(before.Store, "reply:timed-out", "posted, perhaps, before the timeout");
            var begin = await before.Store.WriteAsync(ctx => ExecutionLedger.Begin(ctx, "reply:timed-out", "executor:command", deduping, TimeSpan.FromMinutes(1), "execute"));
            await before.Store.WriteAsync(ctx => ExecutionLedger.Finish(ctx, "reply:timed-out", begin.Lease!,
                AttemptOutcome.Interrupted("timed out after 30 s; the process tree was killed"), deduping, new ExecutionOptions(), "executor:command"));
            Assert.Equal(DraftState.Approved, before.Store.Get("reply:timed-out")!.State);
        }
        await using var after = await TestHost.StartAsync(route.Settings("reply", idempotent: false), dataDirectory: data.Path, compose: b => b.AddApprovalJobs());

        await Cycle(after).RunOnceAsync();

        Assert.Empty(route.Runs());
        var draft = after.Store.Get("reply:timed-out")!;
        Assert.Equal((DraftState.Unknown, ExecutionLedger.RouteNoLongerDedupes + ExecutionLedger.UnknownNote), (draft.State, draft.ExecError));
        Assert.Single(after.Store.Events("reply:timed-out"), e => e.Type == AttemptEvents.ExecutionUnknown);
    }

    /// <summary>
    /// An attempt that may have taken effect on a route that dedupes left the draft for a retry under the same key, far
    /// off; then the operator moved the kind to a route of another type. Its key may not reach what the old route did, so
    /// the first cycle after the start makes the draft unknown, as its retry would have, and the log line says the route
    /// moved. Before the fix a move to another deduping route was passed over until the retry time, and the log line
    /// said the route does not dedupe.
    /// </summary>
    [Theory]
    [InlineData("command", "webhook", true, "it was started on a command route, and its kind's route is webhook now, whose idempotency key may not reach what it did")]
    [InlineData("pull", "command", true, "it was started on a pull route, and its kind's route is command now, whose idempotency key may not reach what it did")]
    [InlineData("command", "webhook", false, "it was started on a command route, and its kind's route is webhook now, which does not dedupe")]
    public async Task FirstCycle_RetryLeftByARouteOfAnotherType_UnknownAtOnceAndTheLogSaysTheRouteMoved(string was, string now, bool dedupesNow, string why)
    {
        using var data = new TempDirectory();
        using var route = new RouteScript();
        using var refusing = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        refusing.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var then = was == "pull"
            ? new ExecutorRouteOptions { Type = "pull", Idempotent = true, MaxAttempts = 3 }
            : new ExecutorRouteOptions { Type = "command", Command = ["/bin/true"], Idempotent = true, MaxAttempts = 3 };
        var actor = was == "pull" ? AttemptEvents.PullActorPrefix + "reply" : "executor:command";
        await using (var before = await TestHost.StartAsync(dataDirectory: data.Path))
        {
            await Drafts.ApproveAsync(before.Store, "reply:moved", "posted, perhaps, before the timeout");
            var begin = await before.Store.WriteAsync(ctx => ExecutionLedger.Begin(ctx, "reply:moved", actor, then, TimeSpan.FromMinutes(1), "execute"));
            await before.Store.WriteAsync(ctx => ExecutionLedger.Finish(ctx, "reply:moved", begin.Lease!,
                AttemptOutcome.Interrupted("timed out"), then, new ExecutionOptions { RetryBaseSeconds = 3600, RetryMaxSeconds = 3600 }, actor));
            Assert.Equal(DraftState.Approved, before.Store.Get("reply:moved")!.State);
        }
        IEnumerable<string> settings = now == "webhook"
            ?
            [
                "ApprovalBot:Kinds:reply:Executor:Type=webhook",
                $"ApprovalBot:Kinds:reply:Executor:Url=http://127.0.0.1:{((IPEndPoint)refusing.LocalEndPoint!).Port}/hook/",
                $"ApprovalBot:Kinds:reply:Executor:Idempotent={dedupesNow}",
            ]
            : route.Settings("reply", idempotent: dedupesNow);
        var logs = new CapturedLogs();
        await using var after = await TestHost.StartAsync(settings, s => s.AddSingleton<ILoggerProvider>(logs), data.Path, b => b.AddApprovalJobs());

        await Cycle(after).RunOnceAsync();

        Assert.Empty(route.Runs());
        var draft = after.Store.Get("reply:moved")!;
        var reason = ExecutionLedger.RouteMovedSinceLeftToRerun + why;
        Assert.Equal((DraftState.Unknown, reason + ExecutionLedger.UnknownNote), (draft.State, draft.ExecError));
        Assert.Single(after.Store.Events("reply:moved"), e => e.Type == AttemptEvents.ExecutionUnknown);
        var line = Assert.Single(logs.Entries, e => e.EventId.Name == "ApprovalUnsettledByRouteChange");
        Assert.Contains(why, line.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("does not dedupe now", line.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunOnce_ApprovedDraft_RouteGetsExactTextAndKeyAndResultIsStored()
    {
        using var route = new RouteScript();
        await using var host = await StartAsync(route.Settings("reply"));
        var text = "Thanks — <b>great</b> point & \"quoted\" 🙂\nsecond line";
        await Drafts.ApproveAsync(host.Store, "reply:exact", text, contextJson: """{"rationale":"he asked"}""");

        await Cycle(host).RunOnceAsync();

        var run = Assert.Single(route.Runs());
        var key = IdempotencyKey.For("reply:exact", Sha.Hex(text));
        Assert.Equal(text, run.Text);
        Assert.Equal(Sha.Hex(text), run.Payload.GetProperty("sha256").GetString());
        Assert.Equal(key, run.Key);
        Assert.Equal(key, run.EnvKey);
        Assert.Equal("reply:exact", run.EnvId);
        Assert.Equal(1, run.Attempt);
        Assert.Equal("he asked", run.Payload.GetProperty("context").GetProperty("rationale").GetString());
        Assert.Equal(Sha.Hex(text), run.Payload.GetProperty("decision").GetProperty("sha256").GetString());
        Assert.Equal(Drafts.ApproverName, run.Payload.GetProperty("decision").GetProperty("by_name").GetString());
        await using var client = await host.ConnectAsync();
        var view = (await client.WaitAsync("reply:exact", 1000)).Draft!;
        Assert.Equal(States.Executed, view.State);
        Assert.Equal("https://example.test/reply:exact", view.Execution!.Result);
        Assert.Equal(key, view.Execution.IdempotencyKey);
        var types = host.Store.Events("reply:exact").Select(e => e.Type).ToList();
        Assert.Equal(["submitted", "decided", "execution_started", "executed"], types);
    }

    [Fact]
    public async Task RunOnce_CommandRoute_GetsTheServiceEnvironmentWithoutItsOwnSettings()
    {
        // A real setting (an unknown key would stop every host starting meanwhile) at its shipped value, so the hosts
        // of tests running alongside, which read the process's environment too, are not changed by it.
        const string setting = "ApprovalBot__Execution__RetryMaxSeconds";
        const string other = "ROUTE_ENVIRONMENT_PROBE";
        Environment.SetEnvironmentVariable(setting, "600");
        Environment.SetEnvironmentVariable(other, "kept");
        try
        {
            using var route = new RouteScript();
            await using var host = await StartAsync(route.Settings("reply"));
            await Drafts.ApproveAsync(host.Store, "reply:env", "what the route sees");

            await Cycle(host).RunOnceAsync();

            var environment = Assert.Single(route.Environments());
            Assert.DoesNotContain(environment, line => line.StartsWith("ApprovalBot", StringComparison.OrdinalIgnoreCase));
            Assert.Contains(other + "=kept", environment);
            Assert.Contains("APPROVAL_ID=reply:env", environment);
        }
        finally
        {
            Environment.SetEnvironmentVariable(setting, null);
            Environment.SetEnvironmentVariable(other, null);
        }
    }

    [Fact]
    public async Task Job_ASlowRunGoing_AnotherApprovalIsExecutedMeanwhile()
    {
        using var release = new TempDirectory();
        var go = release.Combine("go");
        using var slow = new RouteScript("wait-for:" + go);
        using var fast = new RouteScript();
        var ends = new RecordingListener();
        await using var host = await StartAsync([.. slow.Settings("reply", timeoutSeconds: 600), .. fast.Settings("post")], listener: ends);
        await Drafts.ApproveAsync(host.Store, "reply:slow", "takes its time");
        await Eventually.TrueAsync(() => slow.Runs().Count == 1, "the slow run to start");

        await Drafts.ApproveAsync(host.Store, "post:fast", "should not wait for it", kind: "post");

        // Before runs outlived their cycle, the cycle holding the slow run held every later approval with it.
        await Eventually.TrueAsync(() => host.Store.Get("post:fast")!.State == DraftState.Executed, "the second approval to be executed");
        Assert.Equal(DraftState.Executing, host.Store.Get("reply:slow")!.State);
        // Its end is told (so the reconcile pass closes what it settled) though another run still goes.
        await Eventually.TrueAsync(() => ends.Results.Any(r => r.Executed == 1), "the executed run's end told to the listeners");
        File.WriteAllText(go, "");
        await Eventually.TrueAsync(() => host.Store.Get("reply:slow")!.State == DraftState.Executed, "the slow run to finish once released");
        Assert.Single(slow.Runs());
        Assert.Single(fast.Runs());
    }

    [Fact]
    public async Task Job_SlotAndQueueFull_DraftsLeftInTheStoreRunOnceTheSlotFrees()
    {
        using var release = new TempDirectory();
        var go = release.Combine("go");
        using var slow = new RouteScript("wait-for:" + go);
        using var fast = new RouteScript();
        await using var host = await StartAsync([.. slow.Settings("reply", timeoutSeconds: 600), .. fast.Settings("post"),
            "ApprovalBot:Execution:MaxParallel=1", "ApprovalBot:Execution:BatchSize=1", "ApprovalBot:Execution:IntervalSeconds=3600"]);
        await Drafts.ApproveAsync(host.Store, "reply:holds-the-slot", "takes its time");
        await Eventually.TrueAsync(() => slow.Runs().Count == 1, "the slow run to start");
        await Drafts.ApproveAsync(host.Store, "post:queued", "waits in memory for the one slot", kind: "post");
        await Cycle(host).StartCycleAsync(CancellationToken.None);
        await Drafts.ApproveAsync(host.Store, "post:in-the-store", "no room to queue it", kind: "post");
        await Cycle(host).StartCycleAsync(CancellationToken.None);
        Assert.Empty(fast.Runs());

        File.WriteAllText(go, "");

        // No interval to fall back on (an hour): the runs' ends themselves bring the cycle that takes the last draft.
        await Eventually.TrueAsync(() => host.Store.Get("post:in-the-store")!.State == DraftState.Executed, "the draft left in the store to run");
        Assert.Equal(DraftState.Executed, host.Store.Get("post:queued")!.State);
        Assert.Equal(DraftState.Executed, host.Store.Get("reply:holds-the-slot")!.State);
        Assert.Equal(2, fast.Runs().Count);
    }

    [Fact]
    public async Task RunOnce_TwentyApprovalsWhoseTextVanished_NoneExecutedAllBlockedAndLogged()
    {
        using var route = new RouteScript();
        var logs = new CapturedLogs();
        await using var host = await StartAsync(route.Settings("reply"), logs: logs);
        var ids = Enumerable.Range(1, 20).Select(i => $"reply:seed:{i}").ToList();
        foreach (var id in ids)
        {
            await Drafts.SubmitAsync(host.Store, id, "text of " + id);
        }
        // The seed incident: the text disappears from the database without the service knowing.
        Drafts.Sql(host, "UPDATE drafts SET text = NULL WHERE id LIKE 'reply:seed:%'");
        foreach (var id in ids)
        {
            Assert.True((await host.Store.TransitionAsync(Drafts.Approval(id, Sha.Hex("text of " + id), DateTimeOffset.UtcNow))).Applied);
        }

        await Cycle(host).RunOnceAsync();

        Assert.Empty(route.Runs());
        Assert.Empty(route.Effects());
        foreach (var id in ids)
        {
            Assert.Equal(DraftState.Blocked, host.Store.Get(id)!.State);
            var blocked = Assert.Single(host.Store.Events(id), e => e.Type == "handoff_blocked");
            using var details = JsonDocument.Parse(blocked.Details!);
            var d = details.RootElement;
            Assert.Equal("text_missing", d.GetProperty("problem").GetString());
            Assert.Equal("reply", d.GetProperty("kind").GetString());
            Assert.Equal("outbound-engager", d.GetProperty("agent").GetString());
            Assert.Equal(Drafts.ApproverName, d.GetProperty("approver").GetString());
            Assert.Equal(Sha.Hex("text of " + id), d.GetProperty("stored_sha256").GetString());
            Assert.Equal(Sha.Hex("text of " + id), d.GetProperty("expected_sha256").GetString());
            Assert.Equal(JsonValueKind.Null, d.GetProperty("actual_sha256").ValueKind);
            Assert.False(d.GetProperty("text_present").GetBoolean());
        }
        Assert.Equal(20, host.Store.EventsOfType("handoff_blocked").Count);
        var errors = logs.Entries.Where(e => e.EventId.Name == "HandoffBlocked").ToList();
        Assert.Equal(20, errors.Count);
        Assert.All(errors, e => Assert.Equal(LogLevel.Error, e.Level));
        Assert.Equal(ids.Order(StringComparer.Ordinal), errors.Select(e => (string)e.Properties["DraftId"]!).Order(StringComparer.Ordinal));
        var one = errors[0].Properties;
        Assert.Equal("text_missing", one["Problem"]);
        Assert.Equal("reply", one["Kind"]);
        Assert.Equal("outbound-engager", one["Agent"]);
        Assert.Equal(Drafts.ApproverName, one["Approver"]);
        Assert.NotNull(one["DecidedAt"]);
        Assert.NotNull(one["StoredSha256"]);
        Assert.NotNull(one["ExpectedSha256"]);
    }

    [Fact]
    public async Task RunOnce_TextChangedAfterSubmit_BlockedAndNeverExecuted()
    {
        using var route = new RouteScript();
        await using var host = await StartAsync(route.Settings("reply"));
        await Drafts.SubmitAsync(host.Store, "reply:changed", "what the approver saw");
        Drafts.Sql(host, "UPDATE drafts SET text = 'something else entirely' WHERE id = 'reply:changed'");
        await host.Store.TransitionAsync(Drafts.Approval("reply:changed", Sha.Hex("what the approver saw"), DateTimeOffset.UtcNow));

        await Cycle(host).RunOnceAsync();

        Assert.Empty(route.Runs());
        Assert.Equal(DraftState.Blocked, host.Store.Get("reply:changed")!.State);
        var blocked = Assert.Single(host.Store.Events("reply:changed"), e => e.Type == "handoff_blocked");
        using var details = JsonDocument.Parse(blocked.Details!);
        Assert.Equal("text_changed", details.RootElement.GetProperty("problem").GetString());
        Assert.Equal(Sha.Hex("something else entirely"), details.RootElement.GetProperty("actual_sha256").GetString());
        // An agent polling the draft learns why, though nothing ran: the view's execution carries the reason.
        await using var client = await host.ConnectAsync();
        var view = (await client.GetAsync("reply:changed")).Draft!;
        Assert.Equal(0, view.Execution!.Attempts);
        Assert.StartsWith("text_changed", view.Execution.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunOnce_BlockedDraft_ReasonRecordedOnDraftAndShownOnCard()
    {
        using var route = new RouteScript();
        await using var host = await StartAsync(route.Settings("reply"));
        // The text goes before the approval: an approval wakes the executor at once, which could run the draft first.
        await Drafts.SubmitAsync(host.Store, "reply:card-reason", "what the approver saw");
        Drafts.Sql(host, "UPDATE drafts SET text = NULL WHERE id = 'reply:card-reason'");
        await host.Store.TransitionAsync(Drafts.Approval("reply:card-reason", Sha.Hex("what the approver saw"), DateTimeOffset.UtcNow));

        await Cycle(host).RunOnceAsync();

        var draft = host.Store.Get("reply:card-reason")!;
        Assert.Equal(DraftState.Blocked, draft.State);
        Assert.StartsWith("text_missing: the draft text is missing from the store", draft.ExecError, StringComparison.Ordinal);
        Assert.Contains("approved sha256 " + Sha.Hex("what the approver saw"), draft.ExecError, StringComparison.Ordinal);
        Assert.Contains("text now missing", draft.ExecError, StringComparison.Ordinal);
        var status = ApprovalBot.Telegram.Cards.CardRenderer.Status(draft)!.ToString();
        Assert.Contains("⛔ Blocked (handoff check failed): text_missing: the draft text is missing", status, StringComparison.Ordinal);
        Assert.DoesNotContain("no reason recorded", status, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunOnce_ApprovalBoundToOtherHash_BlockedAndNeverExecuted()
    {
        using var route = new RouteScript();
        await using var host = await StartAsync(route.Settings("reply"));
        await Drafts.SubmitAsync(host.Store, "reply:otherhash", "stored text");
        await host.Store.TransitionAsync(Drafts.Approval("reply:otherhash", Sha.Hex("the text on the card"), DateTimeOffset.UtcNow));

        await Cycle(host).RunOnceAsync();

        Assert.Empty(route.Runs());
        var blocked = Assert.Single(host.Store.Events("reply:otherhash"), e => e.Type == "handoff_blocked");
        using var details = JsonDocument.Parse(blocked.Details!);
        Assert.Equal("hash_mismatch", details.RootElement.GetProperty("problem").GetString());
        Assert.Equal(Sha.Hex("the text on the card"), details.RootElement.GetProperty("expected_sha256").GetString());
    }

    [Fact]
    public async Task RunOnce_FailingRoute_RetriesWithSameKeyThenFailedAndApproverRetryExecutesOnce()
    {
        using var route = new RouteScript("fail");
        var time = new ManualTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
        await using var host = await StartAsync([.. route.Settings("reply", maxAttempts: 3), "ApprovalBot:Execution:RetryBaseSeconds=10"], time);
        await Drafts.ApproveAsync(host.Store, "reply:flaky", "try me");
        var cycle = Cycle(host);

        await cycle.RunOnceAsync();
        var afterFirst = host.Store.Get("reply:flaky")!;
        await cycle.RunOnceAsync(); // not due yet: the backoff holds it
        var notYet = route.Runs().Count;
        time.Advance(TimeSpan.FromSeconds(10));
        await cycle.RunOnceAsync();
        time.Advance(TimeSpan.FromSeconds(20));
        await cycle.RunOnceAsync();

        Assert.Equal(DraftState.Approved, afterFirst.State);
        Assert.Equal(time.GetUtcNow() - TimeSpan.FromSeconds(30) + TimeSpan.FromSeconds(10), afterFirst.ExecNextAt);
        Assert.Equal(1, notYet);
        var runs = route.Runs();
        Assert.Equal([1, 2, 3], runs.Select(r => r.Attempt));
        Assert.Single(runs.Select(r => r.Key).Distinct());
        var failed = host.Store.Get("reply:flaky")!;
        Assert.Equal(DraftState.Failed, failed.State);
        Assert.Contains("exit code 3", failed.ExecError, StringComparison.Ordinal);
        Assert.Contains("sink said no", failed.ExecError, StringComparison.Ordinal);
        Assert.Equal(3, host.Store.Events("reply:flaky").Count(e => e.Type == "execution_failed"));

        route.Mode = "ok";
        await host.Services.GetRequiredService<ApproverActions>().RetryAsync("reply:flaky", "telegram:1001");
        await cycle.RunOnceAsync();
        await cycle.RunOnceAsync();

        runs = route.Runs();
        Assert.Equal(4, runs.Count);
        Assert.Equal(runs[0].Key, runs[3].Key);
        Assert.Single(route.Effects());
        Assert.Equal(DraftState.Executed, host.Store.Get("reply:flaky")!.State);
    }

    [Fact]
    public async Task RunOnce_MaxAttemptsLoweredWhileADraftWaitsForItsRetry_NotRunAgainButFailedAndLogged()
    {
        using var route = new RouteScript("fail");
        using var data = new TempDirectory();
        var time = new ManualTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
        await using (var before = await TestHost.StartAsync([.. route.Settings("reply", maxAttempts: 5), "ApprovalBot:Execution:RetryBaseSeconds=10"],
            s => s.AddSingleton<TimeProvider>(time), data.Path, b => b.AddApprovalJobs()))
        {
            await Drafts.ApproveAsync(before.Store, "reply:lowered", "try me");
            await Cycle(before).RunOnceAsync();
            time.Advance(TimeSpan.FromSeconds(10));
            await Cycle(before).RunOnceAsync();
            Assert.Equal((DraftState.Approved, 2), (before.Store.Get("reply:lowered")!.State, before.Store.Get("reply:lowered")!.ExecAttempts));
        }
        var logs = new CapturedLogs();
        await using var host = await TestHost.StartAsync([.. route.Settings("reply", maxAttempts: 2), "ApprovalBot:Execution:RetryBaseSeconds=10"],
            s =>
            {
                s.AddSingleton<TimeProvider>(time);
                s.AddSingleton<ILoggerProvider>(logs);
            },
            data.Path, b => b.AddApprovalJobs());
        time.Advance(TimeSpan.FromSeconds(20));

        // Ended by the host's first cycle or this one (RunOnce_MaxAttemptsLoweredWhileDraftsWaitForRetriesFarOff_…).
        await Cycle(host).RunOnceAsync();

        // Before the fix the route ran a third time, one attempt beyond the limit it has now.
        Assert.Equal(2, route.Runs().Count);
        var failed = host.Store.Get("reply:lowered")!;
        Assert.Equal((DraftState.Failed, 2), (failed.State, failed.ExecAttempts));
        Assert.Contains("sink said no", failed.ExecError, StringComparison.Ordinal);
        Assert.EndsWith("not retried: 2 attempt(s) made, and its route allows 2 now", failed.ExecError, StringComparison.Ordinal);
        Assert.Contains(logs.Entries, e => e.Message.StartsWith("Draft reply:lowered (reply) was not run again: 2 attempt(s) made", StringComparison.Ordinal));
    }

    /// <summary>
    /// MaxAttempts lowered (a restart with the new setting) while drafts wait for their retries, far off: the first cycle
    /// ends every draft that has made as many attempts as its route allows now, push or pull, rather than leaving it to
    /// wait for a retry that will not run; one whose text vanished meanwhile is blocked, as its retry would have found. A
    /// draft with an attempt left keeps waiting for its retry.
    /// </summary>
    [Fact]
    public async Task RunOnce_MaxAttemptsLoweredWhileDraftsWaitForRetriesFarOff_EndedAtTheFirstCycleNotAtTheirRetryTime()
    {
        using var route = new RouteScript("fail");
        using var data = new TempDirectory();
        var time = new ManualTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
        IEnumerable<string> Settings(int maxAttempts) =>
        [
            .. route.Settings("reply", maxAttempts: maxAttempts), "ApprovalBot:Execution:RetryBaseSeconds=600", "ApprovalBot:Execution:RetryMaxSeconds=3600",
            "ApprovalBot:Kinds:pulled:Executor:Type=pull", $"ApprovalBot:Kinds:pulled:Executor:MaxAttempts={maxAttempts}",
        ];
        await using (var before = await TestHost.StartAsync(Settings(5), s => s.AddSingleton<TimeProvider>(time), data.Path, b => b.AddApprovalJobs()))
        {
            await using var agent = await before.ConnectAsync();
            async Task ClaimAndFailAsync()
            {
                var claimed = Assert.Single((await agent.ClaimAsync("pulled")).Claimed!);
                Assert.True((await agent.FailAsync(claimed.Id, claimed.Lease, "the target said 503", retryable: true)).Ok);
            }
            await Drafts.ApproveAsync(before.Store, "reply:lowered", "try me");
            await Drafts.ApproveAsync(before.Store, "reply:gone", "vanishes");
            await Drafts.ApproveAsync(before.Store, "pulled:lowered", "claim me", kind: "pulled");
            await Cycle(before).RunOnceAsync();
            await ClaimAndFailAsync();
            time.Advance(TimeSpan.FromSeconds(600));
            await Drafts.ApproveAsync(before.Store, "reply:room", "one attempt so far");
            await Cycle(before).RunOnceAsync();
            await ClaimAndFailAsync();
            foreach (var id in new[] { "reply:lowered", "reply:gone", "pulled:lowered" })
            {
                var waiting = before.Store.Get(id)!;
                Assert.Equal((DraftState.Approved, 2, true), (waiting.State, waiting.ExecAttempts, waiting.ExecNextAt > time.GetUtcNow()));
            }
        }
        DraftFixtures.Sql(data.Path, "UPDATE drafts SET text = NULL WHERE id = 'reply:gone'");
        var logs = new CapturedLogs();
        await using var host = await TestHost.StartAsync(Settings(2),
            s =>
            {
                s.AddSingleton<TimeProvider>(time);
                s.AddSingleton<ILoggerProvider>(logs);
            },
            data.Path, b => b.AddApprovalJobs());

        // The host's first cycle (its interval trigger starts at once) or this one, whichever takes the cycle's gate first.
        await Cycle(host).RunOnceAsync();

        // Before the fix all three waited for their retries (10 to 20 minutes off), to be failed or blocked only then.
        Assert.Equal(5, route.Runs().Count);
        foreach (var id in new[] { "reply:lowered", "pulled:lowered" })
        {
            var failed = host.Store.Get(id)!;
            Assert.Equal((DraftState.Failed, 2, null), (failed.State, failed.ExecAttempts, failed.ExecNextAt));
            Assert.EndsWith("; not retried: 2 attempt(s) made, and its route allows 2 now", failed.ExecError, StringComparison.Ordinal);
            var exhausted = host.Store.Events(id)[^1];
            Assert.Equal((ExecutionLedger.AttemptsExhausted, "executor"), (exhausted.Type, exhausted.Actor));
            Assert.Contains(logs.Entries, e => e.Message.StartsWith($"Draft {id} ({failed.Kind}) was not run again: 2 attempt(s) made", StringComparison.Ordinal));
        }
        var blocked = host.Store.Get("reply:gone")!;
        Assert.Equal((DraftState.Blocked, null), (blocked.State, blocked.ExecNextAt));
        Assert.StartsWith("text_missing", blocked.ExecError, StringComparison.Ordinal);
        var room = host.Store.Get("reply:room")!;
        Assert.Equal((DraftState.Approved, 1, true), (room.State, room.ExecAttempts, room.ExecNextAt > time.GetUtcNow()));
    }

    [Fact]
    public async Task RunOnce_NonIdempotentRouteHangsPastTimeout_KilledAndUnknownNeverRunAgain()
    {
        using var route = new RouteScript("hang");
        await using var host = await StartAsync(route.Settings("reply", maxAttempts: 3, timeoutSeconds: 1, idempotent: false));
        await Drafts.ApproveAsync(host.Store, "reply:hang", "slow one");

        await Cycle(host).RunOnceAsync();
        await Cycle(host).RunOnceAsync();

        var draft = host.Store.Get("reply:hang")!;
        Assert.Equal(DraftState.Unknown, draft.State);
        Assert.Contains("timed out after 1s", draft.ExecError, StringComparison.Ordinal);
        Assert.Contains("may or may not have taken effect", draft.ExecError, StringComparison.Ordinal);
        Assert.Single(route.Runs());
        Assert.Single(host.Store.Events("reply:hang"), e => e.Type == "execution_unknown");
    }

    [Fact]
    public async Task RunOnce_IdempotentRouteHangsPastTimeout_RetriedWithTheSameKey()
    {
        using var route = new RouteScript("hang");
        await using var host = await StartAsync([.. route.Settings("reply", maxAttempts: 3, timeoutSeconds: 1, idempotent: true), "ApprovalBot:Execution:RetryBaseSeconds=0"]);
        await Drafts.ApproveAsync(host.Store, "reply:hang-idem", "slow one");

        await Cycle(host).RunOnceAsync();
        route.Mode = "ok";
        await Cycle(host).RunOnceAsync();

        // The approval also wakes the background job, which may add a hung attempt of its own; what matters is
        // that every attempt carried the same key and the sink saw one effect. When the job's attempt held the draft
        // through both cycles, the job's own retry executes it, once that attempt's timeout has passed.
        await host.WaitForStateAsync("reply:hang-idem", DraftState.Executed, TimeSpan.FromSeconds(30));
        var runs = route.Runs();
        Assert.True(runs.Count >= 2);
        Assert.All(runs, r => Assert.Equal(runs[0].Key, r.Key));
        Assert.Single(route.Effects());
    }

    [Fact]
    public async Task RunOnce_NonIdempotentRouteKilledMidRun_UnknownWithSignal()
    {
        using var route = new RouteScript("sigkill");
        await using var host = await StartAsync(route.Settings("reply", maxAttempts: 3, idempotent: false));
        await Drafts.ApproveAsync(host.Store, "reply:killed", "doomed");

        await Cycle(host).RunOnceAsync();
        await Cycle(host).RunOnceAsync();

        var draft = host.Store.Get("reply:killed")!;
        Assert.Equal(DraftState.Unknown, draft.State);
        Assert.Contains("signal 9", draft.ExecError, StringComparison.Ordinal);
        Assert.Single(route.Runs());
    }

    [Fact]
    public async Task RunOnce_IdempotentRouteKilledMidRun_RetriedWithTheSameKey()
    {
        // Killed on its first run only: the kill's retry is due at once and wakes the background job too, which may run it
        // before the second cycle does. A mode switched by the test between the cycles raced that run (a second and a
        // third kill, then failed with no effect: the once-seen flake).
        using var route = new RouteScript("sigkill-once");
        await using var host = await StartAsync([.. route.Settings("reply", maxAttempts: 3, idempotent: true), "ApprovalBot:Execution:RetryBaseSeconds=0"]);
        await Drafts.ApproveAsync(host.Store, "reply:killed-idem", "doomed once");

        await Cycle(host).RunOnceAsync();
        await Cycle(host).RunOnceAsync();

        var failed = Assert.Single(host.Store.Events("reply:killed-idem"), e => e.Type == "execution_failed");
        Assert.Contains("signal 9", failed.Details, StringComparison.Ordinal);
        var runs = route.Runs();
        Assert.Equal([1, 2], runs.Select(r => r.Attempt));
        Assert.All(runs, r => Assert.Equal(IdempotencyKey.For("reply:killed-idem", Sha.Hex("doomed once")), r.Key));
        Assert.Single(route.Effects());
        Assert.Equal(DraftState.Executed, host.Store.Get("reply:killed-idem")!.State);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RunOnce_StoredContextNotJson_RouteNotStartedDraftFailedOthersExecuted(bool idempotent)
    {
        using var route = new RouteScript();
        await using var host = await StartAsync(route.Settings("reply", maxAttempts: 3, idempotent: idempotent));
        await Drafts.ApproveWithContextNotJsonAsync(host, "reply:not-json", "never reaches the route");
        await Drafts.ApproveAsync(host.Store, "reply:fine", "runs as usual");

        await Cycle(host).RunOnceAsync();

        // Before the fix the program was started first and ran on an empty stdin, and the draft became unknown (or
        // was retried on a deduping route) as if the run may have taken effect.
        Drafts.AssertFailedAsInputNotWritten(host.Store, "reply:not-json");
        // Every start of the script leaves its environment, an empty stdin included: only the good draft's ever started.
        Assert.DoesNotContain(route.Environments(), env => env.Contains("APPROVAL_ID=reply:not-json"));
        Assert.Equal("reply:fine", Assert.Single(route.Runs()).EnvId);
        Assert.Equal(DraftState.Executed, host.Store.Get("reply:fine")!.State);
    }

    [Fact]
    public async Task RunOnce_StoredContextWithUnpairedSurrogateEscape_ExecutedWithTheContextAsStored()
    {
        // Older builds stored such contexts; the escape is valid JSON text, so building the input first must not fail them.
        using var route = new RouteScript();
        await using var host = await StartAsync(route.Settings("reply"));
        await Drafts.ApproveAsync(host.Store, "reply:lone-surrogate", "stored long ago", contextJson: """{"rationale":"a\ud800b"}""");

        await Cycle(host).RunOnceAsync();

        Assert.Equal(DraftState.Executed, host.Store.Get("reply:lone-surrogate")!.State);
        var payload = File.ReadAllText(Assert.Single(Directory.GetFiles(Path.Combine(route.Folder, "runs"), "*.json")));
        Assert.Contains("""
            "context":{"rationale":"a\ud800b"}
            """, payload, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunOnce_RouteExits255OnPurpose_FailedAttemptRetriedNotUnknown()
    {
        // 255 is above 128 but no signal (signals are 1..64): a plain failed exit, retried, even on a route that does not dedupe.
        using var route = new RouteScript("exit255");
        var time = new ManualTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
        await using var host = await StartAsync([.. route.Settings("reply", maxAttempts: 2, idempotent: false), "ApprovalBot:Execution:RetryBaseSeconds=10"], time);
        await Drafts.ApproveAsync(host.Store, "reply:exit255", "refused loudly");

        await Cycle(host).RunOnceAsync();
        var afterFirst = host.Store.Get("reply:exit255")!;
        time.Advance(TimeSpan.FromSeconds(10));
        route.Mode = "ok";
        await Cycle(host).RunOnceAsync();

        Assert.Equal(DraftState.Approved, afterFirst.State);
        Assert.NotNull(afterFirst.ExecNextAt);
        Assert.Contains("exit code 255", afterFirst.ExecError, StringComparison.Ordinal);
        Assert.DoesNotContain("signal", afterFirst.ExecError, StringComparison.Ordinal);
        Assert.Equal([1, 2], route.Runs().Select(r => r.Attempt));
        Assert.Equal(DraftState.Executed, host.Store.Get("reply:exit255")!.State);
        Assert.DoesNotContain(host.Store.Events("reply:exit255"), e => e.Type == "execution_unknown");
    }

    [Theory]
    [InlineData(129, true)]
    [InlineData(137, true)]
    [InlineData(192, true)]
    [InlineData(193, false)]
    [InlineData(255, false)]
    [InlineData(128, false)]
    [InlineData(1, false)]
    public void IsSignalExit_OnlyCodesThatCanBeASignal(int exitCode, bool signal) =>
        Assert.Equal(signal, ApprovalBot.Execution.Routes.CommandRunner.IsSignalExit(exitCode));

    [Fact]
    public async Task RunOnce_RouteExitsNonZero_RetriedNotUnknown()
    {
        using var route = new RouteScript("fail");
        await using var host = await StartAsync([.. route.Settings("reply", maxAttempts: 2, idempotent: false), "ApprovalBot:Execution:RetryBaseSeconds=0"]);
        await Drafts.ApproveAsync(host.Store, "reply:said-no", "refused");

        await Cycle(host).RunOnceAsync();
        await Cycle(host).RunOnceAsync();

        Assert.Equal(DraftState.Failed, host.Store.Get("reply:said-no")!.State);
        Assert.Equal(2, route.Runs().Count);
    }

    [Fact]
    public async Task RunOnce_LeftExecutingByDeadProcess_NonIdempotentRoute_UnknownAndNotRun()
    {
        using var route = new RouteScript();
        var time = new ManualTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
        await using var host = await StartAsync(route.Settings("reply", idempotent: false), time);
        await Drafts.LeaveExecutingAsync(host.Store, "reply:crashed", "maybe posted", "reply", time.GetUtcNow().AddMinutes(-1));

        await Cycle(host).RunOnceAsync();

        Assert.Empty(route.Runs());
        var draft = host.Store.Get("reply:crashed")!;
        Assert.Equal(DraftState.Unknown, draft.State);
        // A push run cut off by a crash is not a pull lease that expired: /orphans must not report it as one.
        Assert.DoesNotContain(host.Store.Events("reply:crashed"), e => e.Type == "lease_expired");
        var interrupted = Assert.Single(host.Store.Events("reply:crashed"), e => e.Type == "execution_interrupted");
        Assert.Contains("\"action\":\"unknown\"", interrupted.Details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunOnce_LeftExecutingByDeadProcess_IdempotentRoute_RerunWithSameKeyAndOneEffect()
    {
        using var route = new RouteScript();
        var time = new ManualTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
        await using var host = await StartAsync(route.Settings("reply", idempotent: true), time);
        var key = IdempotencyKey.For("reply:crashed2", Sha.Hex("posted before the crash"));
        route.RecordEffect(key, "reply:crashed2");
        await Drafts.LeaveExecutingAsync(host.Store, "reply:crashed2", "posted before the crash", "reply", time.GetUtcNow().AddMinutes(-1));

        await Cycle(host).RunOnceAsync();

        var run = Assert.Single(route.Runs());
        Assert.Equal(key, run.Key);
        Assert.Equal(2, run.Attempt);
        Assert.Single(route.Effects());
        var draft = host.Store.Get("reply:crashed2")!;
        Assert.Equal(DraftState.Executed, draft.State);
        Assert.Equal("duplicate:" + key, draft.ExecResult);
        Assert.Contains(host.Store.Events("reply:crashed2"), e => e.Type == "execution_interrupted" && e.Details!.Contains("\"action\":\"requeued\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RunOnce_ExpiredPullLeasesBehindTenThousandLiveOnes_EveryPageRecovered()
    {
        // A pull agent holding 10,000 leases that still run, claimed before the ones whose agent went away. Recovery read the
        // first 10,000 executing drafts and never got to those behind them, cycle after cycle.
        await using var host = await StartAsync(["ApprovalBot:Kinds:pulled:Executor:Type=pull", "ApprovalBot:Kinds:pulled:Executor:Idempotent=true",
            "ApprovalBot:Execution:IntervalSeconds=3600"]);
        var now = DateTimeOffset.UtcNow;
        var expired = ExecutorCycle.RecoveryPage + 1;
        DraftFixtures.BulkDrafts(host.DataDirectory, "pulled:live", "pulled", "executing", 10_000, now,
            $"exec_attempts = 1, lease_token = 'live', lease_until = {now.AddHours(1).ToUnixTimeMilliseconds()}");
        DraftFixtures.BulkDrafts(host.DataDirectory, "pulled:gone", "pulled", "executing", expired, now,
            $"exec_attempts = 1, lease_token = 'gone', lease_until = {now.AddMinutes(-1).ToUnixTimeMilliseconds()}");

        await Cycle(host).RunOnceAsync();

        // Counted in the store: a background cycle may have recovered some of them first.
        var states = host.Store.Read(c =>
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT substr(id, 1, 11), state, COUNT(*) FROM drafts GROUP BY 1, 2 ORDER BY 1, 2";
            using var reader = cmd.ExecuteReader();
            var rows = new List<string>();
            while (reader.Read()) rows.Add($"{reader.GetString(0)} {reader.GetString(1)} {reader.GetInt64(2)}");
            return rows;
        });
        Assert.Equal([$"pulled:gone approved {expired}", "pulled:live executing 10000"], states);
        Assert.Single(host.Store.Events("pulled:gone:" + expired), e => e.Type == AttemptEvents.LeaseExpired);
    }

    [Fact]
    public async Task RunOnce_KindWithoutRoute_StaysApproved()
    {
        using var route = new RouteScript();
        await using var host = await StartAsync(route.Settings("reply"));
        await Drafts.ApproveAsync(host.Store, "post:noroute", "nobody executes me", kind: "post");

        await Cycle(host).RunOnceAsync();

        Assert.Equal(DraftState.Approved, host.Store.Get("post:noroute")!.State);
        Assert.Empty(route.Runs());
    }

    [Theory]
    [InlineData(3600)]
    [InlineData(20)]
    public async Task Approval_Committed_ExecutorJobRunsWithoutBeingAsked(int intervalSeconds)
    {
        using var route = new RouteScript();
        await using var host = await StartAsync([.. route.Settings("reply"), $"ApprovalBot:Execution:IntervalSeconds={intervalSeconds}"]);
        // Let the start-up cycle pass, so the wake-up below competes with a pending interval trigger.
        await Cycle(host).RunOnceAsync();
        var executed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Store.Signals.Subscribe(c =>
        {
            if (c.Id == "reply:auto" && c.To == DraftState.Executed) executed.TrySetResult();
        });

        await Drafts.ApproveAsync(host.Store, "reply:auto", "go");

        // Well within the interval: the approval itself woke the job.
        await executed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Single(route.Runs());
    }

    private sealed class RecordingListener : IExecutorCycleListener
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<ExecutorCycleResult> _results = new();

        public IReadOnlyCollection<ExecutorCycleResult> Results => _results;

        public Task AfterCycleAsync(ExecutorCycleResult result, CancellationToken cancellationToken)
        {
            _results.Enqueue(result);
            return Task.CompletedTask;
        }
    }
}
