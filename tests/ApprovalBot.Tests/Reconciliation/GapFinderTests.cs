using ApprovalBot.Drafts;
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
        ],
        services: s => s.AddSingleton<TimeProvider>(_clock),
        compose: b => b.AddReconciliation());

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private GapFinder Finder => _host.Services.GetRequiredService<GapFinder>();

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

    [Fact]
    public async Task Find_HealthyStore_BothReportsEmpty()
    {
        await DraftFixtures.SubmitAsync(Store, "reply:fresh");
        await DraftFixtures.ApproveAsync(Store, "reply:rejected-later");
        await DraftFixtures.MoveAsync(Store, "reply:rejected-later", DraftState.Approved, DraftState.Cancelled);

        Assert.Empty(Finder.All());
    }
}
