using System.Text.Json.Nodes;
using ApprovalBot.Drafts;
using ApprovalBot.Reconciliation;
using ApprovalBot.Tests.Execution;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Tests.Reconciliation;

/// <summary>
/// The expiry on the real store, with a clock the test moves: <c>reply</c> expires two days after its submission, <c>post</c>
/// (as shipped) never. The card, the tap, the agent's wait and the restart are in <see cref="ExpiryEndToEndTests"/>.
/// </summary>
public sealed class DraftExpiryTests : IAsyncLifetime
{
    private static readonly TimeSpan ExpireAfter = TimeSpan.FromDays(2);
    private readonly ManualTimeProvider _clock = new(DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
    private TestHost _host = null!;

    public async Task InitializeAsync() => _host = await TestHost.StartAsync(
        ["ApprovalBot:Kinds:reply:ExpireAfter=2.00:00:00"],
        services: s =>
        {
            s.AddSingleton<TimeProvider>(_clock);
            s.AddSingleton<IEscalationChannel>(new RecordingEscalationChannel());
        },
        compose: b => b.AddReconciliation());

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private DraftExpiry Expiry => _host.Services.GetRequiredService<DraftExpiry>();

    private DraftStore Store => _host.Store;

    private Task CardAsync(string id) =>
        DraftFixtures.MoveAsync(Store, id, DraftState.Pending, DraftState.Carded, new Dictionary<string, object?> { ["card_chat_id"] = 1001L, ["card_message_id"] = 7L });

    [Fact]
    public async Task RunOnceAsync_PendingAndCardedPastExpireAfter_BothExpiredWithTheirLedgerEvent()
    {
        await DraftFixtures.SubmitAsync(Store, "reply:never-carded");
        await DraftFixtures.SubmitAsync(Store, "reply:carded");
        await CardAsync("reply:carded");
        _clock.Advance(ExpireAfter);

        var expired = await Expiry.RunOnceAsync(default);

        Assert.Equal(2, expired);
        foreach (var (id, from, carded) in new[] { ("reply:never-carded", "pending", false), ("reply:carded", "carded", true) })
        {
            var draft = Store.Get(id)!;
            Assert.Equal(DraftState.Expired, draft.State);
            Assert.Equal(_clock.GetUtcNow(), draft.StateSince);
            var e = Assert.Single(Store.Events(id), e => e.Type == DraftExpiry.EventType);
            Assert.Equal("expiry", e.Actor);
            var details = JsonNode.Parse(e.Details!)!;
            Assert.Equal(from, (string?)details["from"]);
            Assert.Equal("expired", (string?)details["to"]);
            Assert.Equal("2.00:00:00", (string?)details["expire_after"]);
            Assert.Equal(carded, (bool?)details["carded"]);
            Assert.Equal("no decision within ApprovalBot:Kinds:reply:ExpireAfter (2.00:00:00) of its submission", (string?)details["reason"]);
            Assert.Equal(draft.CreatedAt, DateTimeOffset.Parse((string)details["submitted_at"]!, System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    /// <summary>
    /// A card sent unconfirmed (Telegram took it, its answer could not be read: card_unconfirmed) is most likely in the chat,
    /// only its message id is unknown: the approver could have seen it, and the expiry says so. It said "expired before any
    /// card of it reached the chat", at Warning, with <c>carded: false</c> in the ledger.
    /// </summary>
    [Fact]
    public async Task RunOnceAsync_CardSentUnconfirmed_ExpiredAsCarded()
    {
        var logs = new CapturedLogs();
        await using var host = await TestHost.StartAsync(
            ["ApprovalBot:Kinds:reply:ExpireAfter=2.00:00:00"],
            services: s =>
            {
                s.AddSingleton<TimeProvider>(_clock);
                s.AddSingleton<IEscalationChannel>(new RecordingEscalationChannel());
                s.AddSingleton<ILoggerProvider>(logs);
            },
            compose: b => b.AddReconciliation());
        await DraftFixtures.SubmitAsync(host.Store, "reply:unconfirmed");
        await DraftFixtures.MoveAsync(host.Store, "reply:unconfirmed", DraftState.Pending, DraftState.Carded, new Dictionary<string, object?>
        {
            ["card_chat_id"] = 1001L, ["card_message_id"] = null, ["card_attempts"] = 2,
            ["card_error"] = "HTTP 200 without a readable Bot API answer: the card is most likely in chat 1001",
        });
        _clock.Advance(ExpireAfter);

        Assert.Equal(1, await host.Services.GetRequiredService<DraftExpiry>().RunOnceAsync(default));

        var details = JsonNode.Parse(Assert.Single(host.Store.Events("reply:unconfirmed"), e => e.Type == DraftExpiry.EventType).Details!)!;
        Assert.True((bool?)details["carded"]);
        var line = Assert.Single(logs.Entries, e => e.Message.Contains("Expired reply:unconfirmed", StringComparison.Ordinal));
        Assert.Equal(LogLevel.Information, line.Level);
    }

    [Fact]
    public async Task RunOnceAsync_OneMillisecondBeforeExpireAfter_NothingExpiresThenItDoes()
    {
        await DraftFixtures.SubmitAsync(Store, "reply:edge");
        _clock.Advance(ExpireAfter - TimeSpan.FromMilliseconds(1));

        Assert.Equal(0, await Expiry.RunOnceAsync(default));
        Assert.Equal(DraftState.Pending, Store.Get("reply:edge")!.State);

        _clock.Advance(TimeSpan.FromMilliseconds(1));

        Assert.Equal(1, await Expiry.RunOnceAsync(default));
        Assert.Equal(DraftState.Expired, Store.Get("reply:edge")!.State);
    }

    [Fact]
    public async Task RunOnceAsync_KindWithoutExpireAfter_NeverExpires()
    {
        await DraftFixtures.SubmitAsync(Store, "post:forever", kind: "post");
        _clock.Advance(TimeSpan.FromDays(3650));

        Assert.Equal(0, await Expiry.RunOnceAsync(default));
        Assert.Equal(DraftState.Pending, Store.Get("post:forever")!.State);
    }

    /// <summary>Timed from the submission, as StaleAfter is: a card that went out late (its state_since later) does not restart the clock.</summary>
    [Fact]
    public async Task RunOnceAsync_CardedLate_TimedFromTheSubmission()
    {
        await DraftFixtures.SubmitAsync(Store, "reply:late-card");
        _clock.Advance(TimeSpan.FromDays(1.5));
        await CardAsync("reply:late-card");
        _clock.Advance(TimeSpan.FromDays(0.5));

        Assert.Equal(1, await Expiry.RunOnceAsync(default));
        Assert.Equal(DraftState.Expired, Store.Get("reply:late-card")!.State);
    }

    [Fact]
    public async Task RunOnceAsync_DecidedOrCancelledDrafts_LeftAsTheyAre()
    {
        await DraftFixtures.ApproveAsync(Store, "reply:approved");
        await DraftFixtures.SubmitAsync(Store, "reply:rejected");
        await DraftFixtures.MoveAsync(Store, "reply:rejected", DraftState.Pending, DraftState.Rejected);
        await DraftFixtures.SubmitAsync(Store, "reply:cancelled");
        await DraftFixtures.MoveAsync(Store, "reply:cancelled", DraftState.Pending, DraftState.Cancelled);
        var before = new[] { "reply:approved", "reply:rejected", "reply:cancelled" }.Select(id => Store.Get(id)!).ToList();
        _clock.Advance(ExpireAfter * 3);

        Assert.Equal(0, await Expiry.RunOnceAsync(default));
        Assert.Equal(before, before.Select(d => Store.Get(d.Id)));
        Assert.Empty(Store.EventsOfType(DraftExpiry.EventType));
    }

    /// <summary>A store left for days (the service down) may hold more due drafts than one commit takes: every one expires in one run.</summary>
    [Fact]
    public async Task RunOnceAsync_MoreDueThanOneBatch_ExpiresEveryOneOnce()
    {
        var count = DraftExpiry.Batch * 2 + 7;
        DraftFixtures.BulkDrafts(_host.DataDirectory, "reply:bulk", "reply", "carded", count, _clock.GetUtcNow() - ExpireAfter);
        DraftFixtures.BulkDrafts(_host.DataDirectory, "reply:young", "reply", "pending", 3, _clock.GetUtcNow() - ExpireAfter + TimeSpan.FromSeconds(1));

        Assert.Equal(count, await Expiry.RunOnceAsync(default));
        Assert.Equal(0, await Expiry.RunOnceAsync(default));

        Assert.Equal(count, Store.List(DraftState.Expired, "reply", 1000).Count);
        Assert.Equal(count, Store.EventsOfType(DraftExpiry.EventType, limit: 1000).Count);
        Assert.Equal(3, Store.List(DraftState.Pending, "reply", 1000).Count);
    }
}
