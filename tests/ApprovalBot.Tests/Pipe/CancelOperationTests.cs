using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Execution;
using ApprovalBot.Pipe.Operations;
using ApprovalBot.Reconciliation;
using ApprovalBot.Tests.Execution;
using ApprovalBot.Tests.Execution.Routes;
using ApprovalBot.Tests.Infrastructure;
using ApprovalBot.Tests.Reconciliation;
using ApprovalBot.Tests.Telegram;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Quartz;

namespace ApprovalBot.Tests.Pipe;

/// <summary>
/// The pipe's <c>cancel</c> on the real host over the real socket: which states it withdraws, what it records, what it
/// refuses, a repeat after a lost answer, the bad-input table, and the race with the executor. The card and a tap on it
/// are in <see cref="CancelEndToEndTests"/>.
/// </summary>
public sealed class CancelOperationTests : IAsyncLifetime
{
    private const string Kept = "reply:keep";
    private readonly CapturedLogs _logs = new();
    private TestHost _host = null!;

    public async Task InitializeAsync()
    {
        _host = await TestHost.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(_logs));
        await DraftFixtures.SubmitAsync(Store, Kept);
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private DraftStore Store => _host.Store;

    /// <summary>Puts <paramref name="id"/> into the state named, through the store's own transitions.</summary>
    private async Task InStateAsync(string id, string state)
    {
        switch (state)
        {
            case "pending":
                await DraftFixtures.SubmitAsync(Store, id);
                break;
            case "carded":
                await DraftFixtures.SubmitAsync(Store, id);
                await DraftFixtures.MoveAsync(Store, id, DraftState.Pending, DraftState.Carded,
                    new Dictionary<string, object?> { ["card_chat_id"] = 1001L, ["card_message_id"] = 7L });
                break;
            case "approved":
                await DraftFixtures.ApproveAsync(Store, id);
                break;
            case "approved, waiting for a retry":
                await DraftFixtures.ApproveAsync(Store, id);
                await DraftFixtures.MoveAsync(Store, id, DraftState.Approved, DraftState.Executing);
                await DraftFixtures.MoveAsync(Store, id, DraftState.Executing, DraftState.Approved,
                    new Dictionary<string, object?> { ["exec_attempts"] = 1, ["exec_error"] = "sink said no", ["exec_next_at"] = DateTimeOffset.UtcNow.AddMinutes(5) });
                break;
            case "failed":
                await DraftFixtures.ApproveAsync(Store, id);
                await DraftFixtures.MoveAsync(Store, id, DraftState.Approved, DraftState.Executing);
                await DraftFixtures.MoveAsync(Store, id, DraftState.Executing, DraftState.Failed, new Dictionary<string, object?> { ["exec_error"] = "sink said no" });
                break;
            case "executing":
                await DraftFixtures.ApproveAsync(Store, id);
                await DraftFixtures.MoveAsync(Store, id, DraftState.Approved, DraftState.Executing);
                break;
            case "executed":
                await InStateAsync(id, "executing");
                await DraftFixtures.MoveAsync(Store, id, DraftState.Executing, DraftState.Executed);
                break;
            case "unknown":
                await InStateAsync(id, "executing");
                await DraftFixtures.MoveAsync(Store, id, DraftState.Executing, DraftState.Unknown);
                break;
            case "blocked":
                await DraftFixtures.ApproveAsync(Store, id);
                await DraftFixtures.MoveAsync(Store, id, DraftState.Approved, DraftState.Blocked);
                break;
            case "rejected":
                await DraftFixtures.SubmitAsync(Store, id);
                await DraftFixtures.MoveAsync(Store, id, DraftState.Pending, DraftState.Rejected);
                break;
            case "expired":
                await DraftFixtures.SubmitAsync(Store, id);
                await DraftFixtures.MoveAsync(Store, id, DraftState.Pending, DraftState.Expired);
                break;
            case "discarded":
                await DraftFixtures.SubmitAsync(Store, id);
                Assert.True((await _host.Services.GetRequiredService<ApproverActions>().DiscardAsync(id, "telegram:1001")).Applied);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(state), state, null);
        }
    }

    [Theory]
    [InlineData("pending")]
    [InlineData("carded")]
    [InlineData("approved")]
    [InlineData("approved, waiting for a retry")]
    [InlineData("failed")]
    public async Task Cancel_DraftNothingWillRunWithoutSomeonesSay_CancelledWithItsLedgerEventAndTheDraftInTheAnswer(string state)
    {
        const string id = "reply:withdrawn";
        await InStateAsync(id, state);
        var from = Store.Get(id)!.State.ToWire();
        await using var agent = await _host.ConnectAsync();

        var response = await agent.CancelAsync(id, "the thread was deleted");

        Assert.True(response.Ok, response.Error?.Message);
        var stored = Store.Get(id)!;
        Assert.Equal((DraftState.Cancelled, Draft.CancelledByAgent, "the thread was deleted"), (stored.State, stored.CancelledBy, stored.CancelReason));
        Assert.Equal(stored.ToView(), response.Draft);
        Assert.Equal(States.Cancelled, response.Draft!.State);
        Assert.Equal(new CancellationView("agent", "the thread was deleted", stored.StateSince), response.Draft.Cancellation);
        var cancelled = Assert.Single(Store.Events(id), e => e.Type == CancelOperation.EventType);
        Assert.Equal(CancelOperation.Actor, cancelled.Actor);
        var details = JsonNode.Parse(cancelled.Details!)!;
        Assert.Equal(("agent", "the thread was deleted", from, "cancelled"),
            ((string?)details["by"], (string?)details["reason"], (string?)details["from"], (string?)details["to"]));
        var line = Assert.Single(_logs.Entries, e => e.Category.EndsWith(nameof(CancelOperation), StringComparison.Ordinal) && e.Level == LogLevel.Information);
        Assert.Equal((id, from, "the thread was deleted"), ((string?)line.Properties["DraftId"], (string?)line.Properties["State"], (string?)line.Properties["Reason"]));
    }

    [Fact]
    public async Task Cancel_WithoutAReason_CancelledAndNoReasonAnywhere()
    {
        await using var agent = await _host.ConnectAsync();

        var response = await agent.CancelAsync(Kept);

        Assert.True(response.Ok, response.Error?.Message);
        Assert.Equal(new CancellationView("agent", null, Store.Get(Kept)!.StateSince), response.Draft!.Cancellation);
        var details = JsonNode.Parse(Assert.Single(Store.Events(Kept), e => e.Type == CancelOperation.EventType).Details!)!.AsObject();
        Assert.False(details.ContainsKey("reason"));
    }

    /// <summary>An agent that lost the answer asks again (with another reason, even): the same answer, nothing written.</summary>
    [Fact]
    public async Task Cancel_RepeatedAfterTheFirstWithdrew_SameAnswerAndNoSecondLedgerEvent()
    {
        await using var agent = await _host.ConnectAsync();
        var first = await agent.SendRawAsync("""{"op":"cancel","id":"reply:keep","reason":"superseded by reply:keep:2"}"""u8.ToArray());
        var events = Store.Events(Kept);
        var draft = Store.Get(Kept);

        var again = await agent.SendRawAsync("""{"op":"cancel","id":"reply:keep","reason":"superseded by reply:keep:2"}"""u8.ToArray());
        await using var other = await _host.ConnectAsync();
        var otherReason = await other.CancelAsync(Kept, "something else");

        Assert.True(PipeClient.ParseResponse(first!).Ok, first);
        Assert.Equal(first, again);
        Assert.Equal("superseded by reply:keep:2", otherReason.Draft!.Cancellation!.Reason);
        Assert.Equal(PipeClient.ParseResponse(first!).Draft, otherReason.Draft);
        Assert.Equal(events, Store.Events(Kept));
        Assert.Equal(draft, Store.Get(Kept));
        Assert.Single(_logs.Entries, e => e.Category.EndsWith(nameof(CancelOperation), StringComparison.Ordinal) && e.Level == LogLevel.Information);
    }

    [Theory]
    [InlineData("executing", "its execution is under way and cannot be withdrawn; wait with until final for its outcome")]
    [InlineData("executed", "it has been executed")]
    [InlineData("rejected", "the approver rejected it; nothing will execute it")]
    [InlineData("expired", "it expired without a decision; nothing will execute it")]
    [InlineData("discarded", "the approver discarded it; nothing will execute it")]
    [InlineData("blocked", "its handoff check failed; nothing will execute it, and the approver looks into it")]
    [InlineData("unknown", "the outcome of its execution is not known (it may have taken effect); the approver checks and decides")]
    public async Task Cancel_DraftPastWithdrawing_ConflictNamingTheStateAndNothingChanged(string state, string why)
    {
        const string id = "reply:too-late";
        await InStateAsync(id, state);
        var draft = Store.Get(id);
        var events = Store.Events(id);
        await using var agent = await _host.ConnectAsync();

        var response = await agent.CancelAsync(id, "changed my mind");

        Assert.False(response.Ok);
        var wire = state == "discarded" ? "cancelled" : state;
        Assert.Equal(new ProtocolError(ErrorCodes.Conflict, $"draft '{id}' is {wire}: {why}; nothing changed", "id"), response.Error);
        Assert.Equal(draft, Store.Get(id));
        Assert.Equal(events, Store.Events(id));
        var refused = Assert.Single(_logs.Entries, e => e.Category.EndsWith(nameof(CancelOperation), StringComparison.Ordinal));
        Assert.Equal((id, wire), ((string?)refused.Properties["DraftId"], (string?)refused.Properties["State"]));
    }

    [Fact]
    public async Task Cancel_UnknownId_NotFoundAndNothingStored()
    {
        await using var agent = await _host.ConnectAsync();

        var response = await agent.CancelAsync("reply:never-submitted", "gone");

        Assert.Equal(new ProtocolError(ErrorCodes.NotFound, "no draft with id 'reply:never-submitted'", "id"), response.Error);
        Assert.Null(Store.Get("reply:never-submitted"));
        Assert.Empty(Store.Events("reply:never-submitted"));
    }

    /// <summary>Both kinds of wait, waiting on the draft before it moves, are answered by the withdrawal.</summary>
    [Fact]
    public async Task Cancel_WhileAgentsWait_EachWaitReturnsCancelled()
    {
        await using var decided = await _host.ConnectAsync();
        await using var final = await _host.ConnectAsync();
        var decidedWait = decided.WaitAsync(Kept, 600_000);
        var finalWait = final.WaitAsync(Kept, 600_000, WaitUntil.Final);
        await Eventually.TrueAsync(() => Store.Signals.Waiting == 2, "two waits on the draft");
        await using var agent = await _host.ConnectAsync();

        var cancelled = await agent.CancelAsync(Kept, "superseded");

        Assert.True(cancelled.Ok, cancelled.Error?.Message);
        foreach (var response in new[] { await decidedWait.WaitAsync(TelegramHarness.Wait), await finalWait.WaitAsync(TelegramHarness.Wait) })
        {
            Assert.True(response.Ok, response.Error?.Message);
            Assert.True(response.Decided);
            Assert.Equal(States.Cancelled, response.Draft!.State);
            Assert.Equal("superseded", response.Draft.Cancellation!.Reason);
            Assert.Null(response.Draft.Decision);
        }
    }

    private const string NotValidUnicode = "not valid Unicode text (an unpaired surrogate escape)";

    public static TheoryData<string, string, string, string?, string> BadRequests => new()
    {
        // name, request line, code, field, message
        { "id missing", """{"op":"cancel"}""", ErrorCodes.Invalid, "id", "required field 'id' is missing" },
        { "id missing, a reason given", """{"op":"cancel","reason":"gone"}""", ErrorCodes.Invalid, "id", "required field 'id' is missing" },
        { "id a number", """{"op":"cancel","id":5}""", ErrorCodes.Invalid, "id", "wrong type: expected a string" },
        { "id an array", """{"op":"cancel","id":["reply:keep"]}""", ErrorCodes.Invalid, "id", "wrong type: expected a string" },
        { "id null", """{"op":"cancel","id":null}""", ErrorCodes.Invalid, "id", "must not be null" },
        { "id twice", """{"op":"cancel","id":"reply:keep","id":"reply:keep"}""", ErrorCodes.Invalid, "id", "duplicate field" },
        { "id with an unpaired surrogate escape", """{"op":"cancel","id":"reply:\ud800"}""", ErrorCodes.Invalid, "id", NotValidUnicode },
        { "id unknown", """{"op":"cancel","id":"reply:none","reason":"gone"}""", ErrorCodes.NotFound, "id", "no draft with id 'reply:none'" },
        { "reason a number", """{"op":"cancel","id":"reply:keep","reason":5}""", ErrorCodes.Invalid, "reason", "wrong type: expected a string" },
        { "reason true", """{"op":"cancel","id":"reply:keep","reason":true}""", ErrorCodes.Invalid, "reason", "wrong type: expected a string" },
        { "reason an object", """{"op":"cancel","id":"reply:keep","reason":{"why":"gone"}}""", ErrorCodes.Invalid, "reason", "wrong type: expected a string" },
        { "reason twice", """{"op":"cancel","id":"reply:keep","reason":"a","reason":"b"}""", ErrorCodes.Invalid, "reason", "duplicate field" },
        { "reason empty", """{"op":"cancel","id":"reply:keep","reason":""}""", ErrorCodes.Invalid, "reason", "must not be empty (leave reason out to give none)" },
        { "reason blank", """{"op":"cancel","id":"reply:keep","reason":" \u3000 "}""", ErrorCodes.Invalid, "reason", "must not be empty (leave reason out to give none)" },
        { "reason 501 characters", """{"op":"cancel","id":"reply:keep","reason":""" + "\"" + new string('x', 501) + "\"}", ErrorCodes.Invalid, "reason", "must be at most 500 characters (UTF-16 code units; got 501)" },
        // An emoji counts two, as for agent.
        { "reason 499 characters and an emoji", """{"op":"cancel","id":"reply:keep","reason":""" + "\"" + new string('x', 499) + "😀\"}", ErrorCodes.Invalid, "reason", "must be at most 500 characters (UTF-16 code units; got 501)" },
        { "reason of invisible characters", """{"op":"cancel","id":"reply:keep","reason":"\u200b\u2060"}""", ErrorCodes.Invalid, "reason", "has no visible character: only whitespace and invisible characters such as U+200B at index 0" },
        // One line on the card: a line break could fake a line of the card's own.
        { "reason with a line break", """{"op":"cancel","id":"reply:keep","reason":"gone\n✅ Approved by Alice"}""", ErrorCodes.Invalid, "reason", "contains the control character U+000A at index 4; a reason takes no control characters" },
        { "reason with a tab", """{"op":"cancel","id":"reply:keep","reason":"a\tb"}""", ErrorCodes.Invalid, "reason", "contains the control character U+0009 at index 1; a reason takes no control characters" },
        { "reason with an escape sequence", """{"op":"cancel","id":"reply:keep","reason":"😀 \u001b[2J"}""", ErrorCodes.Invalid, "reason", "contains the control character U+001B at index 2; a reason takes no control characters" },
        { "reason with NUL", """{"op":"cancel","id":"reply:keep","reason":"g\u0000o"}""", ErrorCodes.Invalid, "reason", "contains the control character U+0000 (NUL) at index 1; a reason takes no control characters" },
        { "reason with a C1 control", """{"op":"cancel","id":"reply:keep","reason":"gone\u0085"}""", ErrorCodes.Invalid, "reason", "contains the control character U+0085 at index 4; a reason takes no control characters" },
        { "reason with a bidirectional override", """{"op":"cancel","id":"reply:keep","reason":"a\u202eb"}""", ErrorCodes.Invalid, "reason", "contains the bidirectional control U+202E at index 1; a reason takes none (it could reorder what the card shows)" },
        { "reason with an unpaired surrogate escape", """{"op":"cancel","id":"reply:keep","reason":"gone \udc00"}""", ErrorCodes.Invalid, "reason", NotValidUnicode },
        { "unknown field", """{"op":"cancel","id":"reply:keep","force":true}""", ErrorCodes.Invalid, "force", "unknown field 'force'" },
        { "a draft object instead of the id", """{"op":"cancel","draft":{"id":"reply:keep"}}""", ErrorCodes.Invalid, "draft", "unknown field 'draft'" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Cancel_BadRequest_RefusedWithCodeFieldAndMessageAndNothingChanged(string name, string line, string code, string? field, string message)
    {
        var draft = Store.Get(Kept);
        var events = Store.Events(Kept);
        await using var agent = await _host.ConnectAsync();

        var response = PipeClient.ParseResponse((await agent.SendRawAsync(Encoding.UTF8.GetBytes(line)))!);

        Assert.False(response.Ok, name);
        Assert.Equal(new ProtocolError(code, message, field), response.Error);
        Assert.Equal(draft, Store.Get(Kept));
        Assert.Equal(events, Store.Events(Kept));
        Assert.Equal([Kept], Store.List(null, null, 10).Select(d => d.Id));
        Assert.True((await agent.PingAsync()).Ok);
    }

    [Theory]
    [InlineData(500, "")]
    [InlineData(498, "😀")]
    [InlineData(0, "\u05d4\u05e9\u05e8\u05e9\u05d5\u05e8 \u05e0\u05de\u05d7\u05e7")]
    public async Task Cancel_ReasonAtTheLimitOrRightToLeft_Accepted(int letters, string tail)
    {
        var reason = new string('x', letters) + tail;
        await using var agent = await _host.ConnectAsync();

        var response = await agent.CancelAsync(Kept, reason);

        Assert.True(response.Ok, response.Error?.Message);
        Assert.Equal(reason, Store.Get(Kept)!.CancelReason);
    }

    [Fact]
    public async Task Cancel_ReasonNull_TakenAsNoReason()
    {
        await using var agent = await _host.ConnectAsync();

        var response = PipeClient.ParseResponse((await agent.SendRawAsync("""{"op":"cancel","id":"reply:keep","reason":null}"""u8.ToArray()))!);

        Assert.True(response.Ok, response.Error?.Message);
        Assert.Null(Store.Get(Kept)!.CancelReason);
    }

    /// <summary>
    /// The agent's cancel and the executor's start of the run (approved -> executing) reach the store's writer in the same
    /// instant, in either order: whichever commits first holds. A cancel committed first means the route never runs; a run
    /// begun first is not withdrawn (conflict: executing) and ends as it would have.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task CancelAndTheExecutorsStartInTheSameInstant_WhicheverCommitsFirstHolds(bool cancelFirst)
    {
        using var route = new RouteScript();
        var jobs = new JobRuns();
        await using var host = await TestHost.StartAsync(
            [.. route.Settings("reply"), "ApprovalBot:Execution:IntervalSeconds=3600"],
            compose: b => b.AddApprovalJobs(q => q.AddJobListener(jobs, [GroupMatcher<JobKey>.AnyGroup()])));
        // The start's own cycle is over, and the approval is written behind the service's back, which wakes no cycle: the
        // only run the draft can get is the one this test starts.
        await jobs.WaitForAsync(ApprovalJobKeys.Executor, 1);
        const string id = "reply:race";
        await DraftFixtures.SubmitAsync(host.Store, id, "Post me, or not");
        DirectApproval.Approve(host.DataDirectory, id, Sha.Hex("Post me, or not"));
        var writer = host.Services.GetRequiredService<DraftWriter>();
        var cycle = host.Services.GetRequiredService<ExecutorCycle>();
        await using var agent = await host.ConnectAsync();
        Task<Response>? cancel = null;
        Task<ExecutorCycleResult>? run = null;

        await using (var held = HeldCommit.Start(host.Store))
        {
            for (var turn = 0; turn < 2; turn++)
            {
                if ((turn == 0) == cancelFirst)
                {
                    cancel = agent.CancelAsync(id, "the thread was deleted");
                }
                else
                {
                    run = Task.Run(() => cycle.RunOnceAsync());
                }
                await Eventually.TrueAsync(() => writer.Queued == turn + 1, $"{turn + 1} write(s) queued behind the held commit");
            }
            held.Release();
        }
        var answer = await cancel!;
        await run!;

        var draft = host.Store.Get(id)!;
        var types = host.Store.Events(id).Select(e => e.Type).ToList();
        if (cancelFirst)
        {
            Assert.True(answer.Ok, answer.Error?.Message);
            Assert.Equal(DraftState.Cancelled, draft.State);
            Assert.Empty(route.Runs());
            Assert.DoesNotContain("execution_started", types);
        }
        else
        {
            Assert.Equal(ErrorCodes.Conflict, answer.Error!.Code);
            Assert.StartsWith($"draft '{id}' is executing: ", answer.Error.Message, StringComparison.Ordinal);
            Assert.Single(route.Runs());
            Assert.Equal(DraftState.Executed, draft.State);
            Assert.DoesNotContain(CancelOperation.EventType, types);
        }
    }

    /// <summary>A failed draft escalated for a human (awaiting_human): once its agent withdrew it, the next cycle closes the escalation.</summary>
    [Fact]
    public async Task Cancel_FailedDraftEscalated_TheNextReconcileCycleClosesTheEscalation()
    {
        var chat = new RecordingEscalationChannel();
        await using var host = await TestHost.StartAsync(
            services: s => s.AddSingleton<IEscalationChannel>(chat),
            compose: b => b.AddReconciliation());
        var reconciler = host.Services.GetRequiredService<Reconciler>();
        const string id = "reply:failed-then-withdrawn";
        await DraftFixtures.ApproveAsync(host.Store, id);
        await DraftFixtures.MoveAsync(host.Store, id, DraftState.Approved, DraftState.Executing);
        await DraftFixtures.MoveAsync(host.Store, id, DraftState.Executing, DraftState.Failed, new Dictionary<string, object?> { ["exec_error"] = "sink said no" });
        var escalated = await reconciler.RunOnceAsync(default);
        await using var agent = await host.ConnectAsync();

        Assert.True((await agent.CancelAsync(id, "the thread was deleted")).Ok);
        var after = await reconciler.RunOnceAsync(default);

        Assert.Equal((1, 1), (escalated.Open, escalated.Escalated));
        Assert.Equal((0, 1), (after.Open, after.Resolved));
        Assert.Empty((await agent.ReportAsync("stale")).Report!.Items);
    }

    /// <summary>
    /// A pull lease that expired on a route that dedupes puts the draft back to approved, but the slow executor may have posted meanwhile: only a
    /// run under the same idempotency key can still record that, so the draft cannot be withdrawn (a late complete of a
    /// withdrawn draft would be refused, and the effect never recorded). Found by review.
    /// </summary>
    [Fact]
    public async Task Cancel_ApprovedAgainAfterItsPullLeaseExpired_ConflictTheAttemptMayHaveTakenEffect()
    {
        var time = new ManualTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
        await using var host = await TestHost.StartAsync(
            ["ApprovalBot:Kinds:reply:Executor:Type=pull", "ApprovalBot:Kinds:reply:Executor:MaxAttempts=3", "ApprovalBot:Kinds:reply:Executor:Idempotent=true"],
            services: s => s.AddSingleton<TimeProvider>(time), compose: b => b.AddApprovalJobs());
        await using var agent = await host.ConnectAsync();
        await DraftFixtures.ApproveAsync(host.Store, "reply:slow", "posted late");
        var claimed = Assert.Single((await agent.ClaimAsync("reply", leaseSeconds: 5)).Claimed!);
        time.Advance(TimeSpan.FromSeconds(6));
        await host.Services.GetRequiredService<ExecutorCycle>().RunOnceAsync();
        Assert.Equal(DraftState.Approved, host.Store.Get("reply:slow")!.State);
        var events = host.Store.Events("reply:slow").Count;

        var cancel = await agent.CancelAsync("reply:slow", "superseded");

        Assert.Equal((ErrorCodes.Conflict, "id"), (cancel.Error!.Code, cancel.Error.Field));
        Assert.Equal("draft 'reply:slow' is approved: its last attempt may have taken effect (its pull lease expired without complete or fail); it cannot be " +
                     "withdrawn, so that a run under the same idempotency key can still record it; nothing changed", cancel.Error.Message);
        Assert.Equal(DraftState.Approved, host.Store.Get("reply:slow")!.State);
        Assert.Equal(events, host.Store.Events("reply:slow").Count);
        // Claimed again, the same key: the agent's sink finds the effect of the first claim.
        var again = Assert.Single((await agent.ClaimAsync("reply", leaseSeconds: 60)).Claimed!);
        Assert.Equal(claimed.IdempotencyKey, again.IdempotencyKey);
    }

    /// <summary>
    /// An attempt that may have taken effect used up the draft's attempts (failed), and an approver's Retry sends it back to
    /// approved with its attempts counted from zero: the next claim runs under the same idempotency key, the one that can still
    /// record the first attempt's effect, so the draft stays unwithdrawable. Before the fix the cancel looked at the ledger only
    /// while the draft counted attempts, and after the Retry it was withdrawn: the agent told so while its post may have been live.
    /// </summary>
    [Theory]
    [InlineData("fail with may_have_taken_effect", "its pull executor's fail said it may have taken effect")]
    [InlineData("lease expired", "its pull lease expired without complete or fail")]
    public async Task Cancel_RetriedByAnApproverAfterAnAttemptThatMayHaveTakenEffect_StillRefused(string attempt, string how)
    {
        var time = new ManualTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
        await using var host = await TestHost.StartAsync(
            ["ApprovalBot:Kinds:reply:Executor:Type=pull", "ApprovalBot:Kinds:reply:Executor:MaxAttempts=1", "ApprovalBot:Kinds:reply:Executor:Idempotent=true"],
            services: s => s.AddSingleton<TimeProvider>(time), compose: b => b.AddApprovalJobs());
        await using var agent = await host.ConnectAsync();
        const string id = "reply:retried";
        await DraftFixtures.ApproveAsync(host.Store, id, "posted, perhaps");
        var claimed = Assert.Single((await agent.ClaimAsync("reply", leaseSeconds: 5)).Claimed!);
        if (attempt == "lease expired")
        {
            time.Advance(TimeSpan.FromSeconds(6));
            await host.Services.GetRequiredService<ExecutorCycle>().RunOnceAsync();
        }
        else
        {
            Assert.True((await agent.FailAsync(new FailRequest { Id = id, Lease = claimed.Lease, Error = "no answer", MayHaveTakenEffect = true })).Ok);
        }
        var failed = host.Store.Get(id)!;
        Assert.Equal(DraftState.Failed, failed.State);
        Assert.True((await host.Services.GetRequiredService<ApproverActions>().RetryAsync(id, "telegram:1001", failed.StateSince)).Applied);
        var retried = host.Store.Get(id)!;
        Assert.Equal((DraftState.Approved, 0), (retried.State, retried.ExecAttempts));
        var events = host.Store.Events(id).Count;

        var cancel = await agent.CancelAsync(id, "superseded");

        Assert.Equal(new ProtocolError(ErrorCodes.Conflict,
            $"draft '{id}' is approved: its last attempt may have taken effect ({how}); it cannot be withdrawn, so that a run under the same idempotency key " +
            "can still record it; nothing changed", "id"), cancel.Error);
        Assert.Equal(retried, host.Store.Get(id));
        Assert.Equal(events, host.Store.Events(id).Count);
        var again = Assert.Single((await agent.ClaimAsync("reply")).Claimed!);
        Assert.Equal(claimed.IdempotencyKey, again.IdempotencyKey);
    }

    /// <summary>An approver's Retry of an unknown outcome says the approver checked the target and found nothing: withdrawable, as before.</summary>
    [Fact]
    public async Task Cancel_RetriedByAnApproverAfterAnUnknownOutcome_Withdrawn()
    {
        await using var host = await TestHost.StartAsync(["ApprovalBot:Kinds:reply:Executor:Type=pull"], compose: b => b.AddApprovalJobs());
        await using var agent = await host.ConnectAsync();
        const string id = "reply:checked";
        await DraftFixtures.ApproveAsync(host.Store, id, "not posted, the approver found");
        var claimed = Assert.Single((await agent.ClaimAsync("reply")).Claimed!);
        Assert.True((await agent.FailAsync(new FailRequest { Id = id, Lease = claimed.Lease, Error = "no answer", MayHaveTakenEffect = true })).Ok);
        var unknown = host.Store.Get(id)!;
        Assert.Equal(DraftState.Unknown, unknown.State);
        Assert.True((await host.Services.GetRequiredService<ApproverActions>().RetryAsync(id, "telegram:1001", unknown.StateSince)).Applied);

        var cancel = await agent.CancelAsync(id, "superseded");

        Assert.True(cancel.Ok, cancel.Error?.Message);
        Assert.Equal(DraftState.Cancelled, host.Store.Get(id)!.State);
    }

    /// <summary>
    /// A run the service's crash cut off on a route that does not dedupe makes the draft unknown (its ledger event is
    /// execution_interrupted, not execution_unknown). An approver's Retry of it says the approver checked the target, so it is
    /// withdrawable, as after any unknown outcome. Before the fix the cancel read the interrupted run as a cut-off attempt that
    /// only a run under the same key could record, and refused, against the README. Found by review.
    /// </summary>
    [Fact]
    public async Task Cancel_RetriedByAnApproverAfterACrashLeftItUnknown_Withdrawn()
    {
        using var route = new RouteScript();
        using var data = new TempDirectory();
        const string id = "reply:cut-then-checked";
        await using (var crashed = await TestHost.StartAsync([.. route.Settings("reply", idempotent: false), "ApprovalBot:Execution:IntervalSeconds=3600"],
            dataDirectory: data.Path, compose: b => b.AddApprovalJobs()))
        {
            await ApprovalBot.Tests.Execution.Drafts.LeaveExecutingAsync(crashed.Store, id, "not posted, the approver found", "reply", DateTimeOffset.UtcNow.AddMinutes(-1));
            await crashed.Services.GetRequiredService<ExecutorCycle>().RunOnceAsync();
            Assert.Equal(DraftState.Unknown, crashed.Store.Get(id)!.State);
            Assert.Equal(AttemptEvents.ExecutionInterrupted, crashed.Store.Events(id)[^1].Type);
        }
        // Without the route, the executor leaves the retried draft alone until the agent's cancel (the race is its own test).
        await using var host = await TestHost.StartAsync(["ApprovalBot:Execution:IntervalSeconds=3600"], dataDirectory: data.Path, compose: b => b.AddApprovalJobs());
        var unknown = host.Store.Get(id)!;
        Assert.True((await host.Services.GetRequiredService<ApproverActions>().RetryAsync(id, "telegram:1001", unknown.StateSince)).Applied);
        await using var agent = await host.ConnectAsync();

        var cancel = await agent.CancelAsync(id, "superseded");

        Assert.True(cancel.Ok, cancel.Error?.Message);
        Assert.Equal(DraftState.Cancelled, host.Store.Get(id)!.State);
        Assert.Empty(route.Runs());
    }

    private static string MayHaveTakenEffectRefusal(string id, string state) =>
        $"draft '{id}' is {state}: its last attempt may have taken effect (it failed without a definite answer: timed out, killed, redirected, " +
        "answered with a server error other than 503, or cut off after the request went out); it cannot be withdrawn, so that a run under the same idempotency key can still record it; nothing changed";

    /// <summary>
    /// Runs the draft's first attempt on <paramref name="settings"/>' route (its retry, if any, far off), then has its agent
    /// cancel it: refused, with nothing changed, when the attempt's <c>execution_failed</c> says it may have taken effect;
    /// withdrawn when it failed for certain.
    /// </summary>
    private static async Task FirstAttemptThenCancelAsync(IEnumerable<string> settings, string id, string state, bool mayHaveTakenEffect)
    {
        await using var host = await TestHost.StartAsync(
            [.. settings, "ApprovalBot:Execution:RetryBaseSeconds=600", "ApprovalBot:Execution:IntervalSeconds=3600"],
            compose: b => b.AddApprovalJobs());
        await DraftFixtures.ApproveAsync(host.Store, id, "maybe posted");
        await host.Services.GetRequiredService<ExecutorCycle>().RunOnceAsync();
        var before = host.Store.Get(id)!;
        Assert.Equal(state, before.State.ToWire());
        using (var failed = JsonDocument.Parse(Assert.Single(host.Store.Events(id), e => e.Type == AttemptEvents.ExecutionFailed).Details!))
        {
            Assert.Equal(mayHaveTakenEffect, failed.RootElement.GetProperty(AttemptEvents.MayHaveTakenEffect).GetBoolean());
        }
        var events = host.Store.Events(id).Count;
        await using var agent = await host.ConnectAsync();

        var cancel = await agent.CancelAsync(id, "superseded");

        if (mayHaveTakenEffect)
        {
            Assert.Equal(new ProtocolError(ErrorCodes.Conflict, MayHaveTakenEffectRefusal(id, state), "id"), cancel.Error);
            Assert.Equal(before, host.Store.Get(id));
            Assert.Equal(events, host.Store.Events(id).Count);
        }
        else
        {
            Assert.True(cancel.Ok, cancel.Error?.Message);
            Assert.Equal(DraftState.Cancelled, host.Store.Get(id)!.State);
        }
    }

    /// <summary>
    /// A command route that dedupes: a run that timed out (its process tree killed) or was killed by a signal may have
    /// posted, and is retried under the same key; its agent cannot withdraw it meanwhile, nor once it failed for good. Before
    /// the fix such an attempt was a plain execution_failed and the cancel was accepted: the agent was told the draft was
    /// withdrawn while its post may have been live. A run that exited non-zero on its own said it did not post.
    /// </summary>
    [Theory]
    [InlineData("hang", 3, "approved", true)]
    [InlineData("hang", 1, "failed", true)]
    [InlineData("sigkill", 3, "approved", true)]
    [InlineData("sigkill", 1, "failed", true)]
    [InlineData("fail", 3, "approved", false)]
    [InlineData("fail", 1, "failed", false)]
    public async Task Cancel_AfterACommandAttemptOnADedupingRoute_RefusedOnlyIfItMayHaveTakenEffect(string mode, int maxAttempts, string state, bool refused)
    {
        using var route = new RouteScript(mode);

        await FirstAttemptThenCancelAsync(route.Settings("reply", maxAttempts, timeoutSeconds: mode == "hang" ? 1 : 30, idempotent: true),
            "reply:command-" + mode, state, refused);

        Assert.Single(route.Runs());
    }

    public static TheoryData<string, int, string, bool> WebhookAttempts => new()
    {
        // sink, MaxAttempts, state after the attempt, may have taken effect
        { "no answer", 3, "approved", true },
        { "reset after the request", 3, "approved", true },
        { "redirect", 3, "failed", true },
        { "500", 3, "approved", true },
        { "502", 3, "approved", true },
        { "504", 1, "failed", true },
        { "503", 3, "approved", false },
        { "400", 3, "failed", false },
        { "connection refused", 3, "approved", false },
        { "reset after the request", 1, "failed", true },
        { "503", 1, "failed", false },
    };

    /// <summary>
    /// A webhook route that dedupes: a request that went out and got no answer in time, a reset, or a redirect may have been
    /// acted on, and so may a 5xx other than 503 (a proxy that forwarded it, a sink that threw after posting); 503 and 4xx
    /// are the sink's own answer that it did not act, and a refused connection sent nothing.
    /// </summary>
    [Theory]
    [MemberData(nameof(WebhookAttempts))]
    public async Task Cancel_AfterAWebhookAttemptOnADedupingRoute_RefusedOnlyIfItMayHaveTakenEffect(string sinkDoes, int maxAttempts, string state, bool refused)
    {
        using var refusing = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        refusing.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        await using var sink = new ScriptedSink(_ => sinkDoes switch
        {
            "no answer" => ScriptedSink.Hold,
            "reset after the request" => null,
            "redirect" => "HTTP/1.1 302 Found\r\nLocation: /login\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            "500" or "502" or "503" or "504" => $"HTTP/1.1 {sinkDoes} Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy",
            "400" => "HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\nConnection: close\r\n\r\nno.",
            _ => throw new ArgumentOutOfRangeException(nameof(sinkDoes), sinkDoes, null),
        });
        var url = sinkDoes == "connection refused" ? $"http://127.0.0.1:{((IPEndPoint)refusing.LocalEndPoint!).Port}/hook/" : sink.Url;

        await FirstAttemptThenCancelAsync(
            [
                "ApprovalBot:Kinds:reply:Executor:Type=webhook", $"ApprovalBot:Kinds:reply:Executor:Url={url}",
                $"ApprovalBot:Kinds:reply:Executor:MaxAttempts={maxAttempts}", "ApprovalBot:Kinds:reply:Executor:Idempotent=true",
                $"ApprovalBot:Kinds:reply:Executor:TimeoutSeconds={(sinkDoes == "no answer" ? 1 : 10)}",
            ],
            "reply:webhook", state, refused);

        Assert.Equal(sinkDoes == "connection refused" ? 0 : 1, sink.Keys.Count);
    }

    /// <summary>
    /// A pull executor's plain <c>fail</c> is its own answer that it did not post (one that cannot tell says so with
    /// <c>may_have_taken_effect</c>, see PullOperationsTests): recorded as not having taken effect, and the draft stays withdrawable.
    /// </summary>
    [Fact]
    public async Task Cancel_AfterAPullExecutorsFail_Withdrawn()
    {
        await using var host = await TestHost.StartAsync(["ApprovalBot:Kinds:reply:Executor:Type=pull"], compose: b => b.AddApprovalJobs());
        await DraftFixtures.ApproveAsync(host.Store, "reply:pull-failed", "could not post");
        await using var agent = await host.ConnectAsync();
        var claimed = Assert.Single((await agent.ClaimAsync("reply")).Claimed!);
        Assert.True((await agent.FailAsync(claimed.Id, claimed.Lease, "the site said no", retryable: true)).Ok);
        Assert.Equal(DraftState.Approved, host.Store.Get(claimed.Id)!.State);
        using (var failed = JsonDocument.Parse(Assert.Single(host.Store.Events(claimed.Id), e => e.Type == AttemptEvents.ExecutionFailed).Details!))
        {
            Assert.False(failed.RootElement.GetProperty(AttemptEvents.MayHaveTakenEffect).GetBoolean());
        }

        var cancel = await agent.CancelAsync(claimed.Id, "superseded");

        Assert.True(cancel.Ok, cancel.Error?.Message);
        Assert.Equal(DraftState.Cancelled, host.Store.Get(claimed.Id)!.State);
    }

    /// <summary>
    /// MaxAttempts lowered while a draft waits for the retry of an attempt that may have taken effect: attempts_exhausted
    /// makes it failed without a run, and the cancel still reads the last attempt's own event, so it stays refused.
    /// </summary>
    [Fact]
    public async Task Cancel_FailedByAttemptsExhaustedAfterAKilledRun_StillRefused()
    {
        using var route = new RouteScript("sigkill");
        using var data = new TempDirectory();
        var time = new ManualTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
        const string id = "reply:killed-then-lowered";
        await using (var before = await TestHost.StartAsync([.. route.Settings("reply", maxAttempts: 3, idempotent: true), "ApprovalBot:Execution:RetryBaseSeconds=10"],
            s => s.AddSingleton<TimeProvider>(time), data.Path, b => b.AddApprovalJobs()))
        {
            await DraftFixtures.ApproveAsync(before.Store, id, "maybe posted");
            await before.Services.GetRequiredService<ExecutorCycle>().RunOnceAsync();
            Assert.Equal(DraftState.Approved, before.Store.Get(id)!.State);
        }
        await using var host = await TestHost.StartAsync([.. route.Settings("reply", maxAttempts: 1, idempotent: true), "ApprovalBot:Execution:RetryBaseSeconds=10"],
            s => s.AddSingleton<TimeProvider>(time), data.Path, b => b.AddApprovalJobs());
        time.Advance(TimeSpan.FromSeconds(20));
        await host.Services.GetRequiredService<ExecutorCycle>().RunOnceAsync();
        Assert.Equal(DraftState.Failed, host.Store.Get(id)!.State);
        Assert.Equal(ExecutionLedger.AttemptsExhausted, host.Store.Events(id)[^1].Type);
        await using var agent = await host.ConnectAsync();

        var cancel = await agent.CancelAsync(id, "superseded");

        Assert.Equal(new ProtocolError(ErrorCodes.Conflict, MayHaveTakenEffectRefusal(id, "failed"), "id"), cancel.Error);
        Assert.Equal(DraftState.Failed, host.Store.Get(id)!.State);
        Assert.Single(route.Runs());
    }

    /// <summary>
    /// A store written by an older build: its execution_failed events carry no may_have_taken_effect, even for a timeout on a
    /// route that dedupes. Read as that build did, the draft stays withdrawable.
    /// </summary>
    [Fact]
    public async Task Cancel_FailedAttemptRecordedByAnOlderBuild_WithdrawnAsBefore()
    {
        const string id = "reply:old-store";
        await DraftFixtures.ApproveAsync(Store, id);
        await DraftFixtures.MoveAsync(Store, id, DraftState.Approved, DraftState.Executing, new Dictionary<string, object?> { ["exec_attempts"] = 1 });
        var applied = await Store.TransitionAsync(new Transition(id, [DraftState.Executing], DraftState.Approved, AttemptEvents.ExecutionFailed, "executor:command")
        {
            Set = new Dictionary<string, object?> { ["exec_error"] = "timed out after 30s; the process tree was killed", ["exec_next_at"] = DateTimeOffset.UtcNow.AddMinutes(5) },
            Details = new JsonObject
            {
                ["attempt"] = 1, ["idempotency_key"] = "ab1-old", ["error"] = "timed out after 30s; the process tree was killed",
                ["retryable"] = true, ["retry_at"] = DateTimeOffset.UtcNow.AddMinutes(5).ToString("O"), ["final"] = false,
            },
        });
        Assert.True(applied.Applied);
        await using var agent = await _host.ConnectAsync();

        var cancel = await agent.CancelAsync(id, "superseded");

        Assert.True(cancel.Ok, cancel.Error?.Message);
        Assert.Equal(DraftState.Cancelled, Store.Get(id)!.State);
    }

    /// <summary>A pull executor claims approved drafts of its kind: one its agent withdrew is handed out no more.</summary>
    [Fact]
    public async Task Cancel_ApprovedOnAPullRoute_ClaimHandsItOutNoMore()
    {
        await using var host = await TestHost.StartAsync(["ApprovalBot:Kinds:reply:Executor:Type=pull"], compose: b => b.AddApprovalJobs());
        await DraftFixtures.ApproveAsync(host.Store, "reply:pulled", "withdrawn");
        await DraftFixtures.ApproveAsync(host.Store, "reply:kept", "still wanted");
        await using var agent = await host.ConnectAsync();

        Assert.True((await agent.CancelAsync("reply:pulled", "superseded")).Ok);
        var claimed = await agent.ClaimAsync("reply", max: 10);

        Assert.Equal(["reply:kept"], claimed.Claimed!.Select(c => c.Id));
        Assert.Equal(DraftState.Cancelled, host.Store.Get("reply:pulled")!.State);
    }
}
