using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalBot.Tests.Drafts;

public sealed class DraftStoreTests : IAsyncLifetime
{
    private TestHost _host = null!;

    public async Task InitializeAsync() => _host = await TestHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private DraftStore Store => _host.Store;

    private async Task Submit(string id, string text = "text")
    {
        var outcome = await Store.SubmitAsync(new NewDraft(id, "reply", "agent", text, Sha.Hex(text), null));
        Assert.NotNull(outcome.Receipt);
    }

    [Fact]
    public async Task TransitionAsync_FromExpectedState_MovesAndAppendsEventInSameCommit()
    {
        await Submit("reply:t1");

        var result = await Store.TransitionAsync(new Transition("reply:t1", [DraftState.Pending], DraftState.Carded, "card_sent", "telegram")
        {
            Set = new Dictionary<string, object?> { ["card_chat_id"] = 1001L, ["card_message_id"] = 7L },
        });

        Assert.True(result.Applied);
        Assert.Equal(DraftState.Carded, result.Draft!.State);
        Assert.Equal(7L, result.Draft.CardMessageId);
        var events = Store.Events("reply:t1");
        Assert.Equal(["submitted", "card_sent"], events.Select(e => e.Type));
        Assert.Contains("\"to\":\"carded\"", events[1].Details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TransitionAsync_BackToAStateWithinTheSameMillisecond_EachEntryHasItsOwnStateSince()
    {
        await using var host = await TestHost.StartAsync(services: s => s.AddSingleton<TimeProvider>(new ManualTimeProvider(DateTimeOffset.UtcNow)));
        var store = host.Store;
        await DraftFixtures.ApproveAsync(store, "reply:episodes");
        var entries = new List<DateTimeOffset>();
        foreach (var (from, to) in new[] { (DraftState.Approved, DraftState.Executing), (DraftState.Executing, DraftState.Failed), (DraftState.Failed, DraftState.Approved), (DraftState.Approved, DraftState.Executing), (DraftState.Executing, DraftState.Failed) })
        {
            await DraftFixtures.MoveAsync(store, "reply:episodes", from, to);
            entries.Add(store.Get("reply:episodes")!.StateSince);
        }
        var recorded = await store.TransitionAsync(new Transition("reply:episodes", [DraftState.Failed], DraftState.Failed, "noted", "test"));

        // The clock never moved: still every entry into a state is told apart from the one before (failed twice here).
        Assert.Equal(entries.Order(), entries);
        Assert.Equal(entries.Count, entries.Distinct().Count());
        // Recording facts without a move keeps the entry's time.
        Assert.Equal(entries[^1], recorded.Draft!.StateSince);
    }

    [Fact]
    public async Task AwaitingDecision_CardOfTheOldestSentLast_StillListedInSubmissionOrder()
    {
        await Submit("reply:a1");
        await Submit("reply:a2");
        await Submit("reply:a3");
        await Submit("reply:a4");
        await Store.TransitionAsync(new Transition("reply:a2", [DraftState.Pending], DraftState.Carded, "card_sent", "telegram"));
        await Store.TransitionAsync(new Transition("reply:a1", [DraftState.Pending], DraftState.Carded, "card_sent", "telegram"));
        await Store.TransitionAsync(new Transition("reply:a4", [DraftState.Pending], DraftState.Cancelled, "cancelled", "test"));

        var awaiting = Store.AwaitingDecision(10);

        Assert.Equal(["reply:a1", "reply:a2", "reply:a3"], awaiting.Select(d => d.Id));
        Assert.Equal(["reply:a1", "reply:a2"], Store.AwaitingDecision(2).Select(d => d.Id));
    }

    [Fact]
    public async Task TransitionAsync_DraftInAnotherState_NotAppliedAndNothingWritten()
    {
        await Submit("reply:t2");
        await Store.TransitionAsync(new Transition("reply:t2", [DraftState.Pending], DraftState.Rejected, "decided", "u"));

        var second = await Store.TransitionAsync(new Transition("reply:t2", [DraftState.Pending, DraftState.Carded], DraftState.Approved, "decided", "u"));

        Assert.False(second.Applied);
        Assert.Equal(DraftState.Rejected, second.Draft!.State);
        Assert.Equal(2, Store.Events("reply:t2").Count);
    }

    [Fact]
    public async Task TransitionAsync_UnknownDraft_NotAppliedWithNoDraft()
    {
        var result = await Store.TransitionAsync(new Transition("reply:none", [DraftState.Pending], DraftState.Carded, "x", "y"));

        Assert.False(result.Applied);
        Assert.Null(result.Draft);
    }

    [Fact]
    public async Task TransitionAsync_MoveOutsideTheStateMachine_RefusedAndNeighboursInTheBatchStillCommit()
    {
        await Submit("reply:t3");

        var illegal = Store.TransitionAsync(new Transition("reply:t3", [DraftState.Pending], DraftState.Executed, "x", "y"));
        var neighbours = Enumerable.Range(0, 20).Select(i => Submit($"reply:n{i}")).ToList();

        await Assert.ThrowsAsync<InvalidOperationException>(() => illegal);
        await Task.WhenAll(neighbours);
        Assert.Equal(DraftState.Pending, Store.Get("reply:t3")!.State);
        Assert.Equal(21, Store.List(DraftState.Pending, null, 100).Count);
    }

    [Fact]
    public async Task TransitionAsync_UnknownColumn_Refused()
    {
        await Submit("reply:t4");

        await Assert.ThrowsAsync<ArgumentException>(() => Store.TransitionAsync(
            new Transition("reply:t4", [DraftState.Pending], DraftState.Carded, "x", "y") { Set = new Dictionary<string, object?> { ["text"] = "rewritten" } }));

        Assert.Equal("text", Store.Get("reply:t4")!.Text);
    }

    [Fact]
    public async Task Events_UpdateOrDeleteBehindTheService_RefusedByTheDatabase()
    {
        await Submit("reply:ledger");
        using var connection = new SqliteConnection($"Data Source={Path.Combine(_host.DataDirectory, "approvals.db")};Pooling=False");
        connection.Open();
        using var update = connection.CreateCommand();
        update.CommandText = "UPDATE events SET type = 'forged'";
        using var delete = connection.CreateCommand();
        delete.CommandText = "DELETE FROM events";

        Assert.Contains("append-only", Assert.Throws<SqliteException>(() => update.ExecuteNonQuery()).Message, StringComparison.Ordinal);
        Assert.Contains("append-only", Assert.Throws<SqliteException>(() => delete.ExecuteNonQuery()).Message, StringComparison.Ordinal);
        Assert.Equal("submitted", Assert.Single(Store.Events("reply:ledger")).Type);
    }

    [Fact]
    public async Task SubmitAsync_TextRemovedBehindTheService_ReadBackAsMissingNotEmpty()
    {
        await Submit("reply:vanish", "words");
        using (var connection = new SqliteConnection($"Data Source={Path.Combine(_host.DataDirectory, "approvals.db")};Pooling=False"))
        {
            connection.Open();
            using var cmd = connection.CreateCommand();
            cmd.CommandText = "UPDATE drafts SET text = NULL WHERE id = 'reply:vanish'";
            cmd.ExecuteNonQuery();
        }

        var draft = Store.Get("reply:vanish")!;

        Assert.Null(draft.Text);
        Assert.Equal(Sha.Hex("words"), draft.Sha256);
        Assert.Null(draft.ToView().Text);
    }

    [Fact]
    public async Task LastEventOf_SeveralTypes_TheDraftsLatestOfThoseTypesOnly()
    {
        await Submit("reply:last");
        await Submit("reply:other");
        await Store.AppendEventAsync("reply:last", "lease_expired", "executor", """{"n":1}""");
        await Store.AppendEventAsync("reply:last", "execution_failed", "pull:reply", """{"n":2}""");
        await Store.AppendEventAsync("reply:last", "card_sent", "telegram", null);
        await Store.AppendEventAsync("reply:other", "lease_expired", "executor", """{"n":3}""");

        var last = await Store.WriteAsync(ctx => DraftStore.LastEventOf(ctx, "reply:last", "lease_expired", "execution_failed"));
        var none = await Store.WriteAsync(ctx => DraftStore.LastEventOf(ctx, "reply:last", "executed"));

        Assert.Equal(("reply:last", "execution_failed", "pull:reply", """{"n":2}"""), (last!.DraftId, last.Type, last.Actor, last.Details));
        Assert.Null(none);
    }

    [Fact]
    public async Task LastEventsOf_DraftsInAState_EachOnesOwnLatestOfThoseTypesAndNoneForADraftWithout()
    {
        await Submit("reply:a");
        await Submit("reply:b");
        await Submit("reply:none");
        await Submit("reply:carded");
        await Store.AppendEventAsync("reply:a", "lease_expired", "executor", """{"n":1}""");
        await Store.AppendEventAsync("reply:b", "execution_failed", "executor", """{"n":2}""");
        await Store.AppendEventAsync("reply:a", "execution_failed", "pull:reply", """{"n":3}""");
        await Store.AppendEventAsync("reply:b", "card_sent", "telegram", null);
        await Store.AppendEventAsync("reply:carded", "lease_expired", "executor", """{"n":4}""");
        await Store.TransitionAsync(new Transition("reply:carded", [DraftState.Pending], DraftState.Carded, "card_sent", "telegram"));

        var last = Store.Read(c => DraftStore.LastEventsOf(c, DraftState.Pending, "lease_expired", "execution_failed"));

        Assert.Equal(["reply:a", "reply:b"], last.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(("execution_failed", "pull:reply", """{"n":3}"""), (last["reply:a"].Type, last["reply:a"].Actor, last["reply:a"].Details));
        Assert.Equal(("execution_failed", "executor", """{"n":2}"""), (last["reply:b"].Type, last["reply:b"].Actor, last["reply:b"].Details));
        Assert.Equal(last["reply:a"], await Store.WriteAsync(ctx => DraftStore.LastEventOf(ctx, "reply:a", "lease_expired", "execution_failed")));
    }

    [Fact]
    public async Task SetSettingAsync_ThenGet_ReturnsLatestValue()
    {
        await Store.SetSettingAsync("telegram.offset", "41");
        await Store.SetSettingAsync("telegram.offset", "42");

        Assert.Equal("42", Store.GetSetting("telegram.offset"));
        Assert.Null(Store.GetSetting("missing"));
    }

    [Fact]
    public async Task View_OfStoredDraft_UsesWireStateNames()
    {
        await Submit("reply:view");

        var view = Store.Get("reply:view")!.ToView();

        Assert.Equal(States.Pending, view.State);
        Assert.Null(view.Decision);
        Assert.Null(view.Card);
    }
}
