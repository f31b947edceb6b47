using System.Text.RegularExpressions;
using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Execution;
using ApprovalBot.Reconciliation;
using ApprovalBot.Sandbox;
using ApprovalBot.Tests.Cli;
using ApprovalBot.Tests.Infrastructure;
using ApprovalBot.Telegram.Updates;
using ApprovalBot.Tests.Telegram;
using Microsoft.Extensions.DependencyInjection;
using Quartz;

namespace ApprovalBot.Tests.Reconciliation;

/// <summary>
/// Expiry end to end: the host composed as in Program.cs (pipe, Telegram against the sandbox over HTTP, executor and
/// reconcile jobs on Quartz, both intervals an hour so every cycle a test sees is one it caused, or the start's) on a
/// clock the test moves. <c>reply</c> expires two days after its submission (stale after one), <c>brief</c> after 30
/// seconds, <c>long</c> never. What follows an expiry is checked where the approver and the agent see it: the card,
/// a tap, <c>wait</c>, <c>approvalctl</c>, <c>/stale</c> and <c>/pending</c>.
/// </summary>
public sealed class ExpiryEndToEndTests : IAsyncLifetime
{
    private static readonly TimeSpan ExpireAfter = TimeSpan.FromDays(2);
    private readonly JobRuns _jobs = new();
    private ManualTimeProvider _clock = new(DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
    private TelegramHarness _harness = null!;

    public async Task InitializeAsync()
    {
        _harness = await TelegramHarness.StartAsync(
            settings:
            [
                "ApprovalBot:Kinds:reply:ExpireAfter=2.00:00:00", "ApprovalBot:Kinds:reply:StaleAfter=1.00:00:00",
                "ApprovalBot:Kinds:brief:ExpireAfter=00:00:30",
                "ApprovalBot:Telegram:CardSweepSeconds=60",
                "ApprovalBot:Execution:IntervalSeconds=3600", "ApprovalBot:Reconciliation:IntervalSeconds=3600",
            ],
            // Resolved at each start: a restart can begin on a later clock, as a service does after a night down.
            services: s => s.AddSingleton<TimeProvider>(_ => _clock),
            compose: b =>
            {
                b.AddApprovalJobs(q => q.AddJobListener(_jobs, [GroupMatcher<JobKey>.AnyGroup()]));
                b.AddReconciliation();
            });
        await SettledAsync(0);
    }

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    private TestHost Host => _harness.Host;

    private SandboxControl Control => _harness.Control;

    private Reconciler Reconciler => Host.Services.GetRequiredService<Reconciler>();

    /// <summary>
    /// Both jobs fire once at start (the executor's cycle then fires the reconciler once more); after that only what the
    /// test causes. And the updates that waited at Telegram are handled, and the cycle held for them has run.
    /// </summary>
    private async Task SettledAsync(int reconcilesBefore)
    {
        await _jobs.WaitForAsync(ApprovalJobKeys.Executor, 1);
        await _jobs.WaitForAsync(ApprovalJobKeys.Reconcile, reconcilesBefore + 2);
        await HeldCycle.SettledAsync(Host.Services, TelegramHarness.Wait);
    }

    private UpdateBacklog Backlog => Host.Services.GetRequiredService<UpdateBacklog>();

    private Task<SentMessage> ExpiredCardAsync(SentMessage card) =>
        Control.WaitForEditAsync(card.ChatId, card.MessageId, TelegramHarness.Wait,
            m => m.Buttons.Count == 0 && m.Text!.StartsWith("⌛ Expired at ", StringComparison.Ordinal));

    private async Task<string> CommandAsync(string command, string startsWith)
    {
        var sent = Control.SendUserMessage(command, _harness.Sandbox.Settings.ApproverId, _harness.ChatId);
        var reply = await Control.WaitForMessageAsync(
            m => m.MessageId > sent.MessageId && m.Text is { } t && t.StartsWith(startsWith, StringComparison.Ordinal), TelegramHarness.Wait);
        return reply.Text!;
    }

    [Fact]
    public async Task CardedDraftPastExpireAfter_ExpiresAtTheNextCycle_CardLosesItsButtonsAndEveryWaitReturnsExpired()
    {
        const string id = "reply:stale-post";
        var card = await _harness.SubmitCardedAsync(id, "Congrats on the launch!");
        _clock.Advance(ExpireAfter);
        // Every wait is waiting on the draft before it moves: each is answered by the expiry, not by a look at an expired draft.
        await using var waits = await DraftWaits.StartAsync(Host, id);

        var cycle = await Reconciler.RunOnceAsync(default);

        Assert.Equal(1, cycle.Expired);
        foreach (var response in new[] { await waits.Decided, await waits.Final })
        {
            Assert.True(response.Ok, response.Error?.Message);
            Assert.True(response.Decided);
            Assert.Equal(States.Expired, response.Draft!.State);
            Assert.Null(response.Draft.Decision);
        }
        // As for rejected: the draft left pending/carded, so the wait is over (0); the state says how.
        foreach (var run in new[] { await waits.Cli, await waits.CliFinal })
        {
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Matches(new Regex(@"^state\s+expired$", RegexOptions.Multiline), run.Stdout);
        }
        var edited = await ExpiredCardAsync(card);
        Assert.Contains("Congrats on the launch!", edited.Text, StringComparison.Ordinal);
        Assert.Contains("without a decision", edited.Text, StringComparison.Ordinal);
        await Eventually.TrueAsync(() => Host.Store.Get(id)!.CardShowsCurrentState, "the card's edit recorded as shown");
        var expired = Assert.Single(Host.Store.Events(id), e => e.Type == DraftExpiry.EventType);
        Assert.Equal(DraftExpiry.Actor, expired.Actor);
    }

    /// <summary>
    /// Before the cycle the draft is stale and awaits a decision; after it, neither report names it, it is not escalated
    /// (the expiry is shown on the card), and listing the state expired finds it.
    /// </summary>
    [Fact]
    public async Task AfterExpiry_StaleAndPendingNoLongerListIt_ListStateExpiredFindsIt_NothingEscalated()
    {
        const string id = "reply:reported";
        await _harness.SubmitCardedAsync(id, "Still relevant?");
        _clock.Advance(ExpireAfter);
        Assert.Contains(id, await CommandAsync("/stale", "1 stale"), StringComparison.Ordinal);
        Assert.Contains(id, await CommandAsync("/pending", "Awaiting a decision"), StringComparison.Ordinal);

        var cycle = await Reconciler.RunOnceAsync(default);

        Assert.Equal((1, 0, 0), (cycle.Expired, cycle.Open, cycle.Messages));
        Assert.StartsWith("Nothing stale", await CommandAsync("/stale", "Nothing stale"), StringComparison.Ordinal);
        Assert.StartsWith("Nothing awaits a decision", await CommandAsync("/pending", "Nothing awaits"), StringComparison.Ordinal);
        await using var agent = await Host.ConnectAsync();
        Assert.Empty((await agent.ReportAsync("stale")).Report!.Items);
        Assert.Empty((await agent.ListAsync(States.Carded)).Drafts!);
        Assert.Equal(id, Assert.Single((await agent.ListAsync(States.Expired)).Drafts!).Id);
        var list = await CliRunner.RunAsync("list", "--state", "expired", "--pipe", Host.PipeName);
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Contains(id, list.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(Control.GetMessages(_harness.ChatId), m => m.Text is { } t && t.Contains("attention", StringComparison.Ordinal));
    }

    /// <summary>An old copy of the card tapped after the expiry, and that tap delivered again: each answered, nothing changes.</summary>
    [Fact]
    public async Task TapOnExpiredCard_OldCopyOrRedelivered_AnsweredAndChangesNothing()
    {
        const string id = "reply:tapped-late";
        var card = await _harness.SubmitCardedAsync(id, "Too late to decide");
        _clock.Advance(ExpireAfter);
        await Reconciler.RunOnceAsync(default);
        var expiredCard = await ExpiredCardAsync(card);
        var events = Host.Store.Events(id);

        var (answer, rejectAnswer) = await _harness.TapClosedCardAsync(card);

        Assert.StartsWith("Nothing to decide: this draft expired at ", answer.Text, StringComparison.Ordinal);
        Assert.Equal(answer.Text, rejectAnswer.Text);
        var draft = Host.Store.Get(id)!;
        Assert.Equal((DraftState.Expired, null), (draft.State, draft.Decision));
        Assert.Equal(events, Host.Store.Events(id));
        var now = Control.GetMessage(card.ChatId, card.MessageId)!;
        Assert.Equal((expiredCard.Text, 0), (now.Text, now.Buttons.Count));
    }

    /// <summary>
    /// A draft whose card never got out (the chat refused the bot) and expired meanwhile gets no card once the chat takes
    /// cards again; the draft after it, of a kind that never expires, does, in the same pass that would have sent it first.
    /// </summary>
    [Fact]
    public async Task PendingDraftThatExpired_GetsNoCardOnceTheChatTakesCardsAgain()
    {
        Control.RemoveBotFromChat(_harness.ChatId);
        await _harness.SubmitAsync("brief:never-shown", "No card yet", kind: "brief");
        await Eventually.TrueAsync(() => Host.Store.Get("brief:never-shown")!.CardError is not null, "the refused card recorded");
        _clock.Advance(TimeSpan.FromSeconds(30));

        var cycle = await Reconciler.RunOnceAsync(default);
        Control.AddBotToChat(_harness.ChatId);
        // Past the refused card's next attempt, so it would be due in the outbox's next pass had it not expired.
        _clock.Advance(TimeSpan.FromSeconds(31));
        await _harness.SubmitAsync("long:shown", "Card me", kind: "long");
        await _harness.WaitForCardAsync("long:shown");

        Assert.Equal(1, cycle.Expired);
        var draft = Host.Store.Get("brief:never-shown")!;
        Assert.Equal((DraftState.Expired, null), (draft.State, draft.CardMessageId));
        Assert.DoesNotContain(Control.GetMessages(_harness.ChatId), m => m.Text is { } t && t.Contains("brief:never-shown", StringComparison.Ordinal));
        var expired = Assert.Single(Host.Store.Events("brief:never-shown"), e => e.Type == DraftExpiry.EventType);
        Assert.Contains("\"carded\":false", expired.Details, StringComparison.Ordinal);
    }

    /// <summary>
    /// A draft that came due while the service was down expires at the first reconcile cycle of the next start once the
    /// taps made meanwhile are fetched (none here), and its card follows.
    /// </summary>
    [Fact]
    public async Task Restart_DraftPastExpireAfterWhileDown_ExpiresOnceTheTapsMadeMeanwhileAreInAndItsCardIsEdited()
    {
        const string id = "reply:overnight";
        var card = await _harness.SubmitCardedAsync(id, "Reply while it is fresh");
        var restartAt = _clock.GetUtcNow() + ExpireAfter + TimeSpan.FromHours(1);

        await _harness.RestartHostAsync(whileStopped: () => _clock = new ManualTimeProvider(restartAt));
        await Backlog.Handled.WaitAsync(TelegramHarness.Wait);
        await Reconciler.RunOnceAsync(default);

        var draft = Host.Store.Get(id)!;
        Assert.Equal((DraftState.Expired, restartAt), (draft.State, draft.StateSince));
        await ExpiredCardAsync(card);
        await using var agent = await Host.ConnectAsync();
        var wait = await agent.WaitAsync(id, 0);
        Assert.Equal((true, States.Expired), (wait.Decided, wait.Draft!.State));
    }

    /// <summary>
    /// An ordinary restart long after a draft's ExpireAfter: the start's cycles are held until the updates that waited at
    /// Telegram are in, then a cycle runs at once and expires the draft; nobody is asked to decide it in between.
    /// </summary>
    [Fact]
    public async Task Restart_DraftOverdue_ExpiresAsSoonAsTheBacklogIsIn_WithoutAnEscalationAskingForADecision()
    {
        const string id = "reply:overdue-plain";
        var card = await _harness.SubmitCardedAsync(id, "Overdue by the restart");
        var sentBefore = Control.GetMessages(_harness.ChatId).Count;

        await _harness.RestartHostAsync(whileStopped: () => _clock = new ManualTimeProvider(_clock.GetUtcNow() + ExpireAfter + TimeSpan.FromHours(1)));
        await ExpiredCardAsync(card);

        Assert.Equal(DraftState.Expired, Host.Store.Get(id)!.State);
        Assert.DoesNotContain(Control.GetMessages(_harness.ChatId).Skip(sentBefore), m => m.Text is { } t && t.Contains("needs attention", StringComparison.Ordinal));
        Assert.Equal("0", SqliteFile.Scalar(Path.Combine(Host.DataDirectory, "approvals.db"), "SELECT count(*) FROM escalations"));
    }

    /// <summary>
    /// The approver tapped Approve while the service was down, in time; the service starts after the draft's ExpireAfter.
    /// Telegram gives no time of the tap, so the start's reconcile cycle must not expire the draft before the poller has
    /// fetched it: here getUpdates is held until that cycle has run. The tap then decides the draft.
    /// </summary>
    [Fact]
    public async Task Restart_TapMadeWhileDown_NotBeatenByTheExpiryOfTheFirstCycle()
    {
        const string id = "reply:tapped-while-down";
        var card = await _harness.SubmitCardedAsync(id, "Approved while the service was down");
        var reconciles = _jobs.Count(ApprovalJobKeys.Reconcile);
        var restartAt = _clock.GetUtcNow() + ExpireAfter + TimeSpan.FromHours(1);
        var fetch = new SandboxGate();
        PressedButton? press = null;

        await _harness.RestartHostAsync(whileStopped: () =>
        {
            _clock = new ManualTimeProvider(restartAt);
            press = Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
            Control.InjectFault("getUpdates", SandboxFault.Hold(fetch));
        });
        await _jobs.WaitForAsync(ApprovalJobKeys.Reconcile, reconciles + 1);
        var atTheFirstCycle = Host.Store.Get(id)!.State;
        fetch.Release();
        var answer = await Control.WaitForCallbackAnswerAsync(press!.QueryId, TelegramHarness.Wait);
        await Backlog.Handled.WaitAsync(TelegramHarness.Wait);
        var cycle = await Reconciler.RunOnceAsync(default);

        Assert.Equal(DraftState.Carded, atTheFirstCycle);
        Assert.Equal("✅ Approved", answer.Text);
        Assert.Equal(0, cycle.Expired);
        Assert.Equal("approved", Host.Store.Get(id)!.Decision);
        Assert.DoesNotContain(Host.Store.Events(id), e => e.Type == DraftExpiry.EventType);
    }

    public static TheoryData<int, bool> OutagesPastTheDeadline => new()
    {
        { 5, false }, // within DraftExpiry.HeldAtMost: the expiry waits, and the tap made in time decides
        { 11, true }, // past it: the expiry goes ahead, and the tap fetched later is told the draft expired
    };

    /// <summary>
    /// The running service cannot poll (Telegram answers getUpdates 502) while the approver taps Approve in time and the
    /// draft's ExpireAfter then passes. The tap waits at Telegram, and the expiry waits for it, up to
    /// <see cref="DraftExpiry.HeldAtMost"/> past the deadline. Before, only the taps made while the service was down were
    /// waited for: a cycle during an outage expired the draft, and the in-time tap was answered "nothing to decide".
    /// </summary>
    [Theory]
    [MemberData(nameof(OutagesPastTheDeadline))]
    public async Task PollsFailingAsTheDeadlinePasses_ExpiryWaitsForTheTapUpToHeldAtMost(int minutesPastTheDeadline, bool expires)
    {
        const string id = "reply:tapped-in-an-outage";
        var card = await _harness.SubmitCardedAsync(id, "Approved while Telegram was out of reach");
        // One poll fails; the next, whenever the poller's backoff on the test's clock lets it go, hangs until released.
        var fetch = new SandboxGate();
        Control.InjectFault("getUpdates", SandboxFault.Error(502, "Bad Gateway"));
        Control.InjectFault("getUpdates", SandboxFault.Hold(fetch));
        Control.SendUserMessage("/pending"); // ends the pending poll, so the next one meets the faults
        // Failing, it vouches only for taps made before the last poll that went through, whatever the time is now.
        await Eventually.TrueAsync(() => Backlog.TapsSeenBefore(DateTimeOffset.MaxValue) < DateTimeOffset.MaxValue, "a poll to fail");
        var press = Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        _clock.Advance(ExpireAfter + TimeSpan.FromMinutes(minutesPastTheDeadline));

        var cycle = await Reconciler.RunOnceAsync(default);
        fetch.Release();
        _clock.Advance(UpdatePoller.MaxBackoff); // wakes the poller, should it still be asleep in its backoff
        var answer = await Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);

        Assert.Equal(expires ? 1 : 0, cycle.Expired);
        var draft = Host.Store.Get(id)!;
        if (expires)
        {
            Assert.StartsWith("Nothing to decide: this draft expired at ", answer.Text, StringComparison.Ordinal);
            Assert.Equal(DraftState.Expired, draft.State);
        }
        else
        {
            Assert.Equal("✅ Approved", answer.Text);
            Assert.Equal(("approved", DraftState.Approved), (draft.Decision, draft.State));
            Assert.DoesNotContain(Host.Store.Events(id), e => e.Type == DraftExpiry.EventType);
        }
    }

    /// <summary>
    /// The approver's tap and the expiry reach the store's writer in the same instant, in either order: whichever commits
    /// first holds. A decision committed first is never undone by the expiry, and a tap after the expiry changes nothing.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task TapAndExpiryInTheSameInstant_WhicheverCommitsFirstHolds(bool tapFirst)
    {
        const string id = "reply:race";
        var card = await _harness.SubmitCardedAsync(id, "Decide me now");
        _clock.Advance(ExpireAfter);
        var writer = Host.Services.GetRequiredService<DraftWriter>();
        PressedButton? press = null;
        Task<Reconciler.CycleResult>? cycle = null;

        await using (var held = HeldCommit.Start(Host.Store))
        {
            for (var turn = 0; turn < 2; turn++)
            {
                if ((turn == 0) == tapFirst)
                {
                    press = Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
                }
                else
                {
                    cycle = Task.Run(() => Reconciler.RunOnceAsync(default));
                }
                await Eventually.TrueAsync(() => writer.Queued == turn + 1, $"{turn + 1} write(s) queued behind the held commit");
            }
            held.Release();
        }
        var result = await cycle!;
        var answer = await Control.WaitForCallbackAnswerAsync(press!.QueryId, TelegramHarness.Wait);

        var draft = Host.Store.Get(id)!;
        var types = Host.Store.Events(id).Select(e => e.Type).ToList();
        if (tapFirst)
        {
            Assert.Equal((DraftState.Approved, "approved", 0), (draft.State, draft.Decision, result.Expired));
            Assert.Equal("✅ Approved", answer.Text);
            Assert.DoesNotContain(DraftExpiry.EventType, types);
            await Control.WaitForEditAsync(card.ChatId, card.MessageId, TelegramHarness.Wait, m => m.Text!.StartsWith("✅ Approved by", StringComparison.Ordinal));
        }
        else
        {
            Assert.Equal((DraftState.Expired, null, 1), (draft.State, draft.Decision, result.Expired));
            Assert.StartsWith("Nothing to decide: this draft expired at ", answer.Text, StringComparison.Ordinal);
            Assert.DoesNotContain("decided", types);
            await ExpiredCardAsync(card);
        }
    }
}
