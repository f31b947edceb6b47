using ApprovalBot.Drafts;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Tests.Drafts;

public sealed class SqliteDatabaseTests
{
    private static SqliteDatabase Database(string dir) => new(Options.Create(new StoreOptions { DataDirectory = dir }));

    private static object? Scalar(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }

    [Fact]
    public void Open_EveryConnection_HasWalSynchronousFullAndForeignKeys()
    {
        using var dir = new TempDirectory();
        using var db = Database(dir.Path);
        db.Initialize();

        for (var i = 0; i < 3; i++)
        {
            using var connection = db.Open();
            Assert.Equal("wal", Scalar(connection, "PRAGMA journal_mode"));
            Assert.Equal(2L, Scalar(connection, "PRAGMA synchronous"));
            Assert.Equal(1L, Scalar(connection, "PRAGMA foreign_keys"));
            Assert.Equal(5000L, Scalar(connection, "PRAGMA busy_timeout"));
        }
    }

    [Fact]
    public void Initialize_FreshDirectory_SchemaAtLatestVersionWithIndexes()
    {
        using var dir = new TempDirectory();
        using var db = Database(Path.Combine(dir.Path, "nested", "data"));

        db.Initialize();

        using var connection = db.Open();
        Assert.Equal((long)SchemaMigrations.Latest, Scalar(connection, "PRAGMA user_version"));
        Assert.Equal(1L, Scalar(connection, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'drafts_by_state'"));
    }

    [Fact]
    public void Initialize_StoreAtVersion2_KindIndexNowHoldsApprovedDraftsOnly()
    {
        using var dir = new TempDirectory();
        // Back to the shape of version 2, with a draft in it.
        using var upgraded = UpgradedFrom(dir, """
            DROP INDEX drafts_approved_by_kind;
            CREATE INDEX drafts_by_kind_state ON drafts(kind, state, state_since);
            DROP INDEX events_reported_by_type;
            CREATE INDEX events_by_type ON events(type, at);
            INSERT INTO drafts(id, kind, agent, sha256, state, created_at, updated_at, state_since) VALUES ('reply:v2', 'reply', 'a', 'x', 'approved', 1, 1, 1);
            PRAGMA user_version = 2;
            """);
        var c = upgraded.Connection;
        Assert.Equal((long)SchemaMigrations.Latest, Scalar(c, "PRAGMA user_version"));
        Assert.Equal(0L, Scalar(c, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'drafts_by_kind_state'"));
        Assert.Equal("reply:v2", Scalar(c, "SELECT id FROM drafts INDEXED BY drafts_approved_by_kind WHERE kind = 'reply' AND state = 'approved'"));
    }

    /// <summary>
    /// The product's queries by state and kind (the executor's, the pull claim's, the reports', the card outbox's),
    /// as they are written there: each must search an index, never scan the drafts table.
    /// </summary>
    [Theory]
    [InlineData("SELECT id FROM drafts WHERE kind = $kind AND state = 'approved' AND (exec_next_at IS NULL OR exec_next_at <= $now) ORDER BY state_since, seq LIMIT $max", "drafts_approved_by_kind")]
    [InlineData("SELECT id FROM drafts WHERE state IN ('approved', 'carded') AND ($before IS NULL OR state_since < $before) ORDER BY state_since, seq LIMIT $limit", "drafts_by_state")]
    [InlineData("SELECT id FROM drafts WHERE state = 'pending' AND ((card_attempts = 0 AND card_next_at IS NULL) OR card_next_at <= $now) ORDER BY seq LIMIT $limit", "drafts_by_state")]
    [InlineData("SELECT MIN(card_next_at) FROM drafts WHERE state = 'pending' AND card_next_at IS NOT NULL", "drafts_by_state")]
    public void Initialize_QueriesByStateAndKind_SearchAnIndex(string sql, string index)
    {
        var plan = PlanInFreshStore(sql, [.. new[] { "$kind", "$k0", "$k1", "$now", "$max", "$limit", "$before" }
            .Select(name => (name, name == "$before" ? DBNull.Value : name.StartsWith("$k", StringComparison.Ordinal) ? "reply" : (object)1))]);

        Assert.DoesNotContain(plan, step => step.StartsWith("SCAN drafts", StringComparison.Ordinal));
        Assert.True(plan.Any(step => step.StartsWith("SEARCH drafts USING INDEX " + index, StringComparison.Ordinal)), string.Join(" | ", plan));
    }

    /// <summary>
    /// The executor's due drafts and its next retry time, for one push kind and for two: an index of approved drafts
    /// (the state's, or the approved drafts' by kind), never drafts_by_kind, which holds every draft of a kind ever stored.
    /// </summary>
    [Theory]
    [InlineData("$k0", "drafts_approved_by_kind", "drafts_by_state")]
    [InlineData("$k0, $k1", "drafts_by_state", "drafts_by_state")]
    public void ExecutorCycle_DueDraftsAndNextRetry_SearchAnIndexOfApprovedDrafts(string inList, string dueIndex, string nextIndex)
    {
        (string, object)[] parameters = [("$k0", "reply"), ("$k1", "post"), ("$now", 1L), ("$limit", 50)];

        var due = PlanInFreshStore("SELECT id FROM drafts" + ApprovalBot.Execution.ExecutorCycle.DueWhere(inList), parameters);
        var next = PlanInFreshStore(ApprovalBot.Execution.ExecutorCycle.NextDueSql(inList), parameters);

        Assert.True(due.Any(step => step.StartsWith("SEARCH drafts USING INDEX " + dueIndex, StringComparison.Ordinal)), string.Join(" | ", due));
        Assert.True(next.Any(step => step.StartsWith("SEARCH drafts USING INDEX " + nextIndex, StringComparison.Ordinal)), string.Join(" | ", next));
    }

    [Theory]
    [InlineData(true, false, false)]
    [InlineData(true, true, false)]
    [InlineData(true, false, true)]
    [InlineData(true, true, true)]
    public void List_WithAState_ReadsThatStatesNewestEntriesWithoutSorting(bool byState, bool byKind, bool byBefore)
    {
        (string, object)[] parameters = [("$state", "unknown"), ("$kind", "reply"), ("$before", 2500L), ("$limit", 51)];

        // Backwards through the state's entries, which are in seq order, from the newest one (below $before: a range of
        // the same index, so a page deep in the list costs what the first one does): it stops after the limit, however
        // many drafts are in other states. A sort would mean reading every draft of the state first. In an empty store
        // (no statistics, as a service's own store is) and in an analysed one.
        foreach (var plan in new[] { PlanInFreshStore(DraftStore.ListSql(byState, byKind, byBefore), parameters), PlanInStore(DraftStore.ListSql(byState, byKind, byBefore), parameters) })
        {
            Assert.Contains(plan, step => step.StartsWith(
                byBefore ? "SEARCH drafts USING INDEX drafts_by_state (state=? AND rowid<?)" : "SEARCH drafts USING INDEX drafts_by_state (state=?)", StringComparison.Ordinal));
            Assert.DoesNotContain(plan, step => step.Contains("TEMP B-TREE", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void List_WithoutAStateOrKindFromBefore_ReadsTheTableBackwardsFromThatSeqWithoutSorting()
    {
        (string, object)[] parameters = [("$before", 2500L), ("$limit", 51)];

        // The rowid is seq: the read starts at $before rather than at the newest draft and skips nothing before it.
        foreach (var plan in new[] { PlanInFreshStore(DraftStore.ListSql(false, false, true), parameters), PlanInStore(DraftStore.ListSql(false, false, true), parameters) })
        {
            Assert.Contains(plan, step => step.StartsWith("SEARCH drafts USING INTEGER PRIMARY KEY (rowid<?)", StringComparison.Ordinal));
            Assert.DoesNotContain(plan, step => step.Contains("TEMP B-TREE", StringComparison.Ordinal));
        }
    }

    /// <summary>
    /// A kind without a state: backwards through drafts_by_kind, whose entries of a kind are in seq order, from the newest
    /// draft of the kind (below $before: a range of the same index). It read the table backwards until it had found enough
    /// drafts of the kind, which for a rare one was nearly the whole table. In an empty store (no statistics, as a
    /// service's own store is) and in an analysed one where the kind asked for is rare. (Where statistics say every draft
    /// is of one kind, SQLite may read the table itself from $before instead, which costs the same for that kind.)
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void List_ByKindWithoutAState_ReadsThatKindsNewestEntriesWithoutSorting(bool byBefore)
    {
        (string, object)[] parameters = [("$kind", "post"), ("$before", 2500L), ("$limit", 51)];
        var sql = DraftStore.ListSql(false, true, byBefore);

        foreach (var plan in new[] { PlanInFreshStore(sql, parameters), PlanInStoreOfKinds(sql, parameters) })
        {
            Assert.Contains(plan, step => step.StartsWith(
                byBefore ? "SEARCH drafts USING INDEX drafts_by_kind (kind=? AND rowid<?)" : "SEARCH drafts USING INDEX drafts_by_kind (kind=?)", StringComparison.Ordinal));
            Assert.DoesNotContain(plan, step => step.Contains("TEMP B-TREE", StringComparison.Ordinal));
        }
    }

    /// <summary>
    /// A kind and a state: drafts_by_state, not drafts_by_kind, whichever is the rarer in the store: the states a list
    /// asks for are mostly the rare ones (awaiting a decision, failed, blocked), and a kind with few drafts of that state
    /// would read nearly all of that kind's entries. In an analysed store where the kind is the rare one, too.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void List_ByKindAndState_ReadsTheStatesNewestEntries(bool byBefore)
    {
        (string, object)[] parameters = [("$state", "executed"), ("$kind", "post"), ("$before", 2500L), ("$limit", 51)];
        var sql = DraftStore.ListSql(true, true, byBefore);

        foreach (var plan in new[] { PlanInFreshStore(sql, parameters), PlanInStoreOfKinds(sql, parameters), PlanInStore(sql, parameters) })
        {
            Assert.Contains(plan, step => step.StartsWith(
                byBefore ? "SEARCH drafts USING INDEX drafts_by_state (state=? AND rowid<?)" : "SEARCH drafts USING INDEX drafts_by_state (state=?)", StringComparison.Ordinal));
            Assert.DoesNotContain(plan, step => step.Contains("TEMP B-TREE", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Initialize_StoreAtVersion11_KindIndexBuiltInSeqOrderWithItsDrafts()
    {
        using var dir = new TempDirectory();
        using var upgraded = UpgradedFrom(dir, """
            INSERT INTO drafts(id, kind, agent, sha256, state, created_at, updated_at, state_since) VALUES
                ('post:v9a', 'post', 'a', 'x', 'executed', 1, 1, 9),
                ('reply:v9', 'reply', 'a', 'x', 'carded', 2, 2, 2),
                ('post:v9b', 'post', 'a', 'x', 'carded', 3, 3, 3);
            PRAGMA user_version = 11;
            """, version: 11);
        var c = upgraded.Connection;

        Assert.Equal((long)SchemaMigrations.Latest, Scalar(c, "PRAGMA user_version"));
        Assert.Equal("kind", Scalar(c, "SELECT group_concat(name) FROM pragma_index_info('drafts_by_kind')"));
        Assert.Equal("post:v9b|post:v9a", Scalar(c, "SELECT group_concat(id, '|') FROM (SELECT id FROM drafts INDEXED BY drafts_by_kind WHERE kind = 'post' ORDER BY seq DESC)"));
        Assert.Equal(3L, Scalar(c, "SELECT COUNT(*) FROM drafts"));
    }

    [Fact]
    public void Initialize_StoreAtVersion5_StateIndexRebuiltInSeqOrderWithItsDrafts()
    {
        using var dir = new TempDirectory();
        using var upgraded = UpgradedFrom(dir, """
            DROP INDEX drafts_by_state;
            CREATE INDEX drafts_by_state ON drafts(state, state_since);
            INSERT INTO drafts(id, kind, agent, sha256, state, created_at, updated_at, state_since) VALUES ('reply:v5a', 'reply', 'a', 'x', 'unknown', 1, 1, 9);
            INSERT INTO drafts(id, kind, agent, sha256, state, created_at, updated_at, state_since) VALUES ('reply:v5b', 'reply', 'a', 'x', 'unknown', 2, 2, 3);
            PRAGMA user_version = 5;
            """);
        var c = upgraded.Connection;
        Assert.Equal((long)SchemaMigrations.Latest, Scalar(c, "PRAGMA user_version"));
        Assert.Equal(1L, Scalar(c, "SELECT COUNT(*) FROM pragma_index_info('drafts_by_state')"));
        Assert.Equal("state", Scalar(c, "SELECT name FROM pragma_index_info('drafts_by_state')"));
        Assert.Equal("reply:v5b", Scalar(c, "SELECT id FROM drafts INDEXED BY drafts_by_state WHERE state = 'unknown' ORDER BY seq DESC LIMIT 1"));
    }

    /// <summary>
    /// The card follow-ups' start-up read of the cards left behind their draft: a search of the partial index that holds
    /// only those, in an empty store and in a big analysed one, never a scan of the drafts (a million of them in a real one).
    /// </summary>
    [Fact]
    public void CardFollowUpsBehind_StartUpQuery_SearchesThePartialIndexOfCardsBehind()
    {
        (string, object)[] parameters = [("$after", ""), ("$limit", 100)];

        foreach (var plan in new[] { PlanInFreshStore(ApprovalBot.Telegram.Cards.CardFollowUps.BehindSql, parameters), PlanInStore(ApprovalBot.Telegram.Cards.CardFollowUps.BehindSql, parameters) })
        {
            Assert.DoesNotContain(plan, step => step.StartsWith("SCAN", StringComparison.Ordinal));
            Assert.Contains(plan, step => step.Replace("COVERING ", "", StringComparison.Ordinal)
                .StartsWith("SEARCH drafts USING INDEX drafts_card_behind (id>?)", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Initialize_StoreAtVersion6_CardsOfDraftsThatCanStillChangeShownOnceMoreFinalOnesAndNewOnesNot()
    {
        using var dir = new TempDirectory();
        using var upgraded = UpgradedFrom(dir, """
            INSERT INTO drafts(id, kind, agent, sha256, state, created_at, updated_at, state_since, card_chat_id, card_message_id) VALUES
                ('reply:pending', 'reply', 'a', 'x', 'pending', 1, 1, 1, NULL, NULL),
                ('reply:carded', 'reply', 'a', 'x', 'carded', 1, 1, 1, 7, 1),
                ('reply:approved', 'reply', 'a', 'x', 'approved', 1, 1, 1, 7, 2),
                ('reply:failed', 'reply', 'a', 'x', 'failed', 1, 1, 1, 7, 3),
                ('reply:executed', 'reply', 'a', 'x', 'executed', 1, 1, 1, 7, 4),
                ('reply:rejected', 'reply', 'a', 'x', 'rejected', 1, 1, 1, 7, 5);
            PRAGMA user_version = 6;
            """);
        var c = upgraded.Connection;

        Assert.Equal((long)SchemaMigrations.Latest, Scalar(c, "PRAGMA user_version"));
        // Decided since the card went out, and able to change still: assumed to show its buttons, so shown its state once more.
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT id FROM drafts INDEXED BY drafts_card_behind WHERE card_shown_state <> state OR card_shown_since <> state_since ORDER BY id";
        using var reader = cmd.ExecuteReader();
        var behind = new List<string>();
        while (reader.Read()) behind.Add(reader.GetString(0));
        Assert.Equal(["reply:approved", "reply:failed"], behind);
        Assert.Equal("carded", Scalar(c, "SELECT card_shown_state FROM drafts WHERE id = 'reply:carded'"));
        Assert.Equal(DBNull.Value, Scalar(c, "SELECT card_shown_state FROM drafts WHERE id = 'reply:executed'"));
        Assert.Equal(DBNull.Value, Scalar(c, "SELECT card_shown_state FROM drafts WHERE id = 'reply:pending'"));
    }

    /// <summary>Step 8 adds who withdrew a cancelled draft and why: empty for every draft already stored, an approver's Discard included.</summary>
    [Fact]
    public void Initialize_StoreAtVersion7_CancellationColumnsAddedEmptyAndDraftsReadAsBefore()
    {
        using var dir = new TempDirectory();
        using var upgraded = UpgradedFrom(dir, """
            INSERT INTO drafts(id, kind, agent, sha256, state, created_at, updated_at, state_since) VALUES
                ('reply:discarded', 'reply', 'a', 'x', 'cancelled', 1, 1, 1),
                ('reply:pending', 'reply', 'a', 'x', 'pending', 1, 1, 1);
            PRAGMA user_version = 7;
            """, version: 7);
        var c = upgraded.Connection;

        Assert.Equal((long)SchemaMigrations.Latest, Scalar(c, "PRAGMA user_version"));
        Assert.Equal(0L, Scalar(c, "SELECT COUNT(*) FROM drafts WHERE cancelled_by IS NOT NULL OR cancel_reason IS NOT NULL"));
        using var cmd = c.CreateCommand();
        cmd.CommandText = DraftColumns.Select + " WHERE id = 'reply:discarded'";
        using var reader = cmd.ExecuteReader();
        Assert.True(reader.Read());
        var discarded = DraftColumns.Read(reader);
        Assert.Equal((DraftState.Cancelled, null, null, false), (discarded.State, discarded.CancelledBy, discarded.CancelReason, discarded.WithdrawnByAgent));
    }

    /// <summary>
    /// Step 9 gives an open awaiting_human escalation the episode its key now carries, so the upgrade sends none of them
    /// again. Every other escalation keeps its key: one whose draft has left failed/unknown (the next cycle resolves it),
    /// and one last sent before the draft's current episode began (a Retry that failed again unseen: re-keyed, its new
    /// outcome would count as already escalated).
    /// </summary>
    [Fact]
    public void Initialize_StoreAtVersion8_OpenAwaitingHumanEscalationsOfTheCurrentEpisodeKeyedByIt()
    {
        using var dir = new TempDirectory();
        using var upgraded = UpgradedFrom(dir, """
            INSERT INTO drafts(id, kind, agent, sha256, state, created_at, updated_at, state_since) VALUES
                ('reply:failed', 'reply', 'a', 'x', 'failed', 1, 1, 1700000000123),
                ('reply:unknown', 'reply', 'a', 'x', 'unknown', 1, 1, 1700000000456),
                ('reply:again', 'reply', 'a', 'x', 'failed', 1, 1, 1700000009000),
                ('reply:executed', 'reply', 'a', 'x', 'executed', 1, 1, 1700000000789),
                ('reply:old', 'reply', 'a', 'x', 'failed', 1, 1, 1700000000999);
            INSERT INTO escalations(gap_key, report, gap, draft_id, first_seen, last_sent, sent_count, resolved_at) VALUES
                ('stale:awaiting_human:reply:failed', 'stale', 'awaiting_human', 'reply:failed', 1, 1700000005000, 1, NULL),
                ('stale:awaiting_human:reply:unknown', 'stale', 'awaiting_human', 'reply:unknown', 1, 1700000000456, 1, NULL),
                ('stale:awaiting_human:reply:again', 'stale', 'awaiting_human', 'reply:again', 1, 1700000005000, 1, NULL),
                ('stale:awaiting_human:reply:executed', 'stale', 'awaiting_human', 'reply:executed', 1, 1700000005000, 1, NULL),
                ('stale:awaiting_human:reply:old', 'stale', 'awaiting_human', 'reply:old', 1, 1700000005000, 1, 1700000006000),
                ('stale:not_executed:reply:failed', 'stale', 'not_executed', 'reply:failed', 1, 1700000005000, 1, NULL);
            PRAGMA user_version = 8;
            """, version: 8);
        var c = upgraded.Connection;

        Assert.Equal((long)SchemaMigrations.Latest, Scalar(c, "PRAGMA user_version"));
        Assert.Equal(
            "stale:awaiting_human:reply:again|stale:awaiting_human:reply:executed|stale:awaiting_human:reply:failed:1700000000123|" +
            "stale:awaiting_human:reply:old|stale:awaiting_human:reply:unknown:1700000000456|stale:not_executed:reply:failed",
            Scalar(c, "SELECT group_concat(gap_key, '|') FROM (SELECT gap_key FROM escalations ORDER BY gap_key)"));
        Assert.Equal(5L, Scalar(c, "SELECT COUNT(*) FROM escalations WHERE last_sent IS NOT NULL AND resolved_at IS NULL"));
    }

    /// <summary>
    /// Step 10 keys the open lease_expired escalations by their draft, no longer by each expiry's event: of a draft's open
    /// ones, the one delivered last takes the draft's key and the others are resolved, so the upgrade sends none again.
    /// Closed ones, the "more" item and other gaps keep their keys; so does one whose draft's key is taken already.
    /// </summary>
    [Fact]
    public void Initialize_StoreAtVersion9_OpenLeaseExpiredEscalationsOneOpenPerDraftUnderItsKey()
    {
        using var dir = new TempDirectory();
        using var upgraded = UpgradedFrom(dir, """
            INSERT INTO escalations(gap_key, report, gap, draft_id, first_seen, last_sent, sent_count, resolved_at) VALUES
                ('orphans:lease_expired:11', 'orphans', 'lease_expired', 'pulled:a', 1, 1000, 1, NULL),
                ('orphans:lease_expired:12', 'orphans', 'lease_expired', 'pulled:a', 2, 3000, 2, NULL),
                ('orphans:lease_expired:13', 'orphans', 'lease_expired', 'pulled:a', 3, NULL, 0, NULL),
                ('orphans:lease_expired:14', 'orphans', 'lease_expired', 'pulled:b', 4, NULL, 0, NULL),
                ('orphans:lease_expired:5', 'orphans', 'lease_expired', 'pulled:c', 1, 900, 1, 950),
                ('orphans:lease_expired:57', 'orphans', 'lease_expired', 'pulled:d', 1, 900, 1, 950),
                ('orphans:lease_expired:60', 'orphans', 'lease_expired', '57', 6, 1000, 1, NULL),
                ('orphans:lease_expired:more', 'orphans', 'lease_expired', NULL, 1, 1000, 1, NULL),
                ('stale:awaiting_human:reply:x:1700000000000', 'stale', 'awaiting_human', 'reply:x', 1, 1000, 1, NULL);
            PRAGMA user_version = 9;
            """, version: 9);
        var c = upgraded.Connection;

        Assert.Equal((long)SchemaMigrations.Latest, Scalar(c, "PRAGMA user_version"));
        Assert.Equal(
            "orphans:lease_expired:60 57 1000|orphans:lease_expired:more  1000|orphans:lease_expired:pulled:a pulled:a 3000|" +
            "orphans:lease_expired:pulled:b pulled:b|stale:awaiting_human:reply:x:1700000000000 reply:x 1000",
            Scalar(c, "SELECT group_concat(row, '|') FROM (SELECT gap_key || ' ' || IFNULL(draft_id, '') || IFNULL(' ' || last_sent, '') AS row " +
                "FROM escalations WHERE resolved_at IS NULL ORDER BY gap_key)"));
        Assert.Equal("orphans:lease_expired:11|orphans:lease_expired:13|orphans:lease_expired:5|orphans:lease_expired:57",
            Scalar(c, "SELECT group_concat(gap_key, '|') FROM (SELECT gap_key FROM escalations WHERE resolved_at IS NOT NULL ORDER BY gap_key)"));
    }

    /// <summary>
    /// Step 11 keeps who marked a draft done on the draft; the drafts marked done before it are found in the ledger (their
    /// marked_done event names the approver), their name unknown. A draft executed by a run, or marked done and retried
    /// since (not executed), gets nothing.
    /// </summary>
    [Fact]
    public void Initialize_StoreAtVersion10_DraftsMarkedDoneFoundInTheLedger()
    {
        using var dir = new TempDirectory();
        using var upgraded = UpgradedFrom(dir, """
            INSERT INTO drafts(id, kind, agent, sha256, state, created_at, updated_at, state_since) VALUES
                ('reply:marked', 'reply', 'a', 'x', 'executed', 1, 1, 1),
                ('reply:ran', 'reply', 'a', 'x', 'executed', 1, 1, 1),
                ('reply:odd-actor', 'reply', 'a', 'x', 'executed', 1, 1, 1),
                ('reply:unknown', 'reply', 'a', 'x', 'unknown', 1, 1, 1);
            INSERT INTO events(draft_id, at, type, actor, details) VALUES
                ('reply:marked', 1, 'execution_unknown', 'executor:command', '{}'),
                ('reply:marked', 2, 'marked_done', 'telegram:1001', '{"action":"mark_done"}'),
                ('reply:ran', 2, 'executed', 'executor:command', '{}'),
                ('reply:odd-actor', 2, 'marked_done', 'someone', '{}'),
                ('reply:unknown', 2, 'marked_done', 'telegram:7', '{}');
            PRAGMA user_version = 10;
            """, version: 10);
        var c = upgraded.Connection;

        Assert.Equal((long)SchemaMigrations.Latest, Scalar(c, "PRAGMA user_version"));
        Assert.Equal("reply:marked 1001|reply:odd-actor 0|reply:ran -|reply:unknown -",
            Scalar(c, "SELECT group_concat(row, '|') FROM (SELECT id || ' ' || IFNULL(marked_done_by, '-') || IFNULL(marked_done_by_name, '') AS row FROM drafts ORDER BY id)"));
    }

    [Theory]
    [InlineData("orphan_callback")]
    [InlineData("lease_expired")]
    [InlineData("security")]
    [InlineData("gap_dismissed")]
    public void EventsOfType_TypesTheReconcilerReports_SearchThePartialIndex(string type)
    {
        var plan = PlanInLedger(DraftStore.EventsOfTypeSql(type), ("$type", type), ("$since", 0), ("$limit", 1000));

        Assert.Contains(plan, step => step.StartsWith("SEARCH events USING INDEX events_reported_by_type", StringComparison.Ordinal));
    }

    /// <summary>
    /// The expiry reads the due drafts of each kind with an ExpireAfter every reconcile cycle: the few pending and carded
    /// ones, through drafts_by_state. Not drafts_by_kind (schema 12), which SQLite picks for <c>kind = $kind</c> in a store
    /// without statistics, as a service's own store is: that reads every draft of the kind, executed ones included, from
    /// <c>$after</c> on, each cycle.
    /// </summary>
    [Fact]
    public void DraftExpiry_DueDrafts_SearchTheStateIndexNotTheKinds()
    {
        var plan = PlanInFreshStore(ApprovalBot.Reconciliation.DraftExpiry.DueSql, ("$kind", "reply"), ("$cutoff", 1L), ("$after", 0L), ("$limit", 200));

        Assert.Contains(plan, step => step.StartsWith("SEARCH drafts USING INDEX drafts_by_state (state=? AND rowid>?)", StringComparison.Ordinal));
        Assert.DoesNotContain(plan, step => step.Contains("drafts_by_kind", StringComparison.Ordinal));
    }

    /// <summary>
    /// The executor's recovery reads executing drafts a page at a time, from the seq the last page ended at: a search of
    /// drafts_by_state by state and seq, in seq order, however many executing drafts come before the page.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void ExecutorRecovery_APage_SearchesTheStateIndexFromTheLastSeq(int pullKinds)
    {
        var sql = ApprovalBot.Execution.ExecutorCycle.HeldSql(pullKinds == 0 ? null : string.Join(", ", Enumerable.Range(0, pullKinds).Select(i => "$k" + i)));
        (string, object)[] parameters = [("$after", 100L), ("$now", 1L), ("$limit", 256), .. Enumerable.Range(0, pullKinds).Select(i => ("$k" + i, (object)("k" + i)))];

        foreach (var plan in new[] { PlanInFreshStore(sql, parameters), PlanInStore(sql, parameters) })
        {
            Assert.Contains(plan, step => step.StartsWith("SEARCH drafts USING INDEX drafts_by_state (state=? AND rowid>?)", StringComparison.Ordinal));
            Assert.DoesNotContain(plan, step => step.Contains("TEMP B-TREE", StringComparison.Ordinal));
        }
    }

    /// <summary>
    /// Recovery's first passes (and the ones after, while a push run of a kind moved to pull is left) also read each leased
    /// pull-kind draft's last execution_started: still a page of drafts_by_state from the last seq, and for each draft its
    /// own events, newest first, through events_by_draft; neither table is scanned nor sorted.
    /// </summary>
    [Fact]
    public void ExecutorRecovery_APageOfTheFirstPassesWithPushRuns_SearchesTheStateIndexAndEachDraftsOwnEvents()
    {
        var sql = ApprovalBot.Execution.ExecutorCycle.HeldSql("$k0, $k1", pushRuns: true);
        (string, object)[] parameters = [("$after", 100L), ("$now", 1L), ("$limit", 256), ("$k0", "k0"), ("$k1", "k1")];

        foreach (var plan in new[] { PlanInFreshStore(sql, parameters), PlanInStore(sql, parameters) })
        {
            Assert.Contains(plan, step => step.StartsWith("SEARCH drafts USING INDEX drafts_by_state (state=? AND rowid>?)", StringComparison.Ordinal));
            Assert.Contains(plan, step => step.StartsWith("SEARCH events USING INDEX events_by_draft (draft_id=?)", StringComparison.Ordinal));
            Assert.DoesNotContain(plan, step => step.StartsWith("SCAN", StringComparison.Ordinal));
            Assert.DoesNotContain(plan, step => step.Contains("TEMP B-TREE", StringComparison.Ordinal));
        }
    }

    /// <summary>The executor's read, once per process, of approved drafts that may have used up their attempts: the state's index.</summary>
    [Fact]
    public void ExecutorExhausted_ApprovedDrafts_SearchTheStateIndex()
    {
        foreach (var plan in new[] { PlanInFreshStore(ApprovalBot.Execution.ExecutorCycle.ExhaustedSql, ("$fewest", 3)), PlanInStore(ApprovalBot.Execution.ExecutorCycle.ExhaustedSql, ("$fewest", 3)) })
        {
            Assert.Contains(plan, step => step.StartsWith("SEARCH drafts USING INDEX drafts_by_state (state=?)", StringComparison.Ordinal));
            Assert.DoesNotContain(plan, step => step.StartsWith("SCAN", StringComparison.Ordinal));
        }
    }

    /// <summary>
    /// The reconciler's reads of drafts by state (GapFinder.InStates), each as a report builds it: drafts_by_state
    /// finds the few drafts of states that still await something, which are then sorted; the table is never scanned.
    /// </summary>
    [Theory]
    [InlineData("blocked", "state_since, seq")]
    [InlineData("approved,executing", "state_since, seq")]
    [InlineData("pending,carded", "state_since, seq")]
    [InlineData("pending,carded", "seq")]
    [InlineData("failed,unknown", "state_since, seq")]
    public void GapFinderInStates_EveryReportQuery_SearchesTheStateIndex(string states, string orderBy)
    {
        var sql = ApprovalBot.Reconciliation.GapFinder.InStatesSql(
            [.. states.Split(',').Select(DraftStateNames.Parse)], withText: false, orderBy);

        foreach (var plan in new[] { PlanInFreshStore(sql), PlanInStore(sql) })
        {
            Assert.DoesNotContain(plan, step => step.StartsWith("SCAN drafts", StringComparison.Ordinal));
            Assert.Contains(plan, step => step.StartsWith("SEARCH drafts USING INDEX drafts_by_state (state=?)", StringComparison.Ordinal));
        }
    }

    /// <summary>
    /// The stray taps still open: the taps and the dismissals that close them are both searches of the partial type
    /// index, in an empty store (no statistics, as a service's store is) and in an analysed one.
    /// </summary>
    [Fact]
    public void GapFinderOrphanCallbacks_TapsAndDismissals_SearchThePartialIndex()
    {
        var plans = new[]
        {
            PlanInFreshStore(ApprovalBot.Reconciliation.GapFinder.OrphanCallbacksSql, ("$since", 0), ("$limit", 10_001)),
            PlanInLedger(ApprovalBot.Reconciliation.GapFinder.OrphanCallbacksSql, ("$since", 0), ("$limit", 10_001)),
            PlanInLedger(ApprovalBot.Reconciliation.GapFinder.OrphanCallbacksCountSql, ("$since", 0)),
        };

        Assert.All(plans, plan =>
        {
            Assert.DoesNotContain(plan, step => step.StartsWith("SCAN events", StringComparison.Ordinal));
            Assert.Equal(2, plan.Count(step => step.Replace("COVERING ", "", StringComparison.Ordinal)
                .StartsWith("SEARCH events USING INDEX events_reported_by_type (type=? AND at>?)", StringComparison.Ordinal)));
        });
    }

    /// <summary>
    /// Expired leases of drafts still approved or executing: whichever side the planner starts from, it searches an
    /// index (the type index and drafts by id, or drafts_by_state and each draft's events) and scans neither table.
    /// </summary>
    [Fact]
    public void GapFinderLeaseExpiries_JoinedWithTheirDrafts_ScanNeitherTable()
    {
        var sql = ApprovalBot.Reconciliation.GapFinder.LeaseExpiriesSql;
        (string, object)[] parameters = [("$since", 0), ("$after", 0), ("$limit", 10_000)];

        foreach (var plan in new[] { PlanInFreshStore(sql, parameters), PlanInLedger(sql, parameters), PlanInStore(sql, parameters) })
        {
            Assert.DoesNotContain(plan, step => step.StartsWith("SCAN", StringComparison.Ordinal) && !step.StartsWith("SCAN CONSTANT", StringComparison.Ordinal));
            Assert.Contains(plan, step => step.StartsWith("SEARCH e USING INDEX", StringComparison.Ordinal));
            Assert.Contains(plan, step => step.StartsWith("SEARCH d USING INDEX", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void LastEventAt_OfOneDraft_SearchesItsOwnEvents()
    {
        (string, object)[] parameters = [("$id", "reply:1"), ("$type", "retry_requested")];

        foreach (var plan in new[] { PlanInFreshStore(DraftStore.LastEventAtSql, parameters), PlanInStore(DraftStore.LastEventAtSql, parameters) })
        {
            Assert.Contains(plan, step => step.StartsWith("SEARCH events USING INDEX events_by_draft (draft_id=?)", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void LastEventOf_OfOneDraft_SearchesItsOwnEvents()
    {
        (string, object)[] parameters = [("$id", "reply:1"), ("$t0", "execution_unknown"), ("$t1", "lease_expired")];

        foreach (var plan in new[] { PlanInFreshStore(DraftStore.LastEventOfSql(2), parameters), PlanInStore(DraftStore.LastEventOfSql(2), parameters) })
        {
            Assert.Contains(plan, step => step.StartsWith("SEARCH events USING INDEX events_by_draft (draft_id=?)", StringComparison.Ordinal));
            Assert.DoesNotContain(plan, step => step.Contains("TEMP B-TREE", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void LastEventsOf_DraftsOfAState_FoundByStateThenEachOnesOwnEventsSearched()
    {
        (string, object)[] parameters = [("$state", "unknown"), ("$t0", "execution_unknown"), ("$t1", "lease_expired")];

        foreach (var plan in new[] { PlanInFreshStore(DraftStore.LastEventsOfSql(2), parameters), PlanInStore(DraftStore.LastEventsOfSql(2), parameters) })
        {
            Assert.Contains(plan, step => step.StartsWith("SEARCH d USING INDEX drafts_by_state (state=?)", StringComparison.Ordinal));
            Assert.Contains(plan, step => step.StartsWith("SEARCH events USING INDEX events_by_draft (draft_id=?)", StringComparison.Ordinal));
            Assert.DoesNotContain(plan, step => step.StartsWith("SCAN", StringComparison.Ordinal));
            Assert.DoesNotContain(plan, step => step.Contains("TEMP B-TREE", StringComparison.Ordinal));
        }
    }

    /// <summary>
    /// The query plan of <paramref name="sql"/> in a store like a long-running one, analysed: 5,000 drafts, nearly all
    /// executed, a few approved or executing or carded, each with its submitted event, and a few expired leases.
    /// </summary>
    private static List<string> PlanInStore(string sql, params (string Name, object Value)[] parameters) => PlanAfter("""
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
        INSERT INTO drafts(id, kind, agent, sha256, state, created_at, updated_at, state_since)
        SELECT 'reply:' || i, 'reply', 'a', 'x', CASE i % 500 WHEN 0 THEN 'approved' WHEN 1 THEN 'executing' WHEN 2 THEN 'carded' ELSE 'executed' END, i, i, i FROM n;
        INSERT INTO events(draft_id, at, type, actor, details) SELECT id, seq, 'submitted', 'a', '{}' FROM drafts;
        INSERT INTO events(draft_id, at, type, actor, details) SELECT id, seq, 'lease_expired', 'a', '{}' FROM drafts WHERE seq % 100 = 0;
        ANALYZE;
        """, sql, parameters);

    /// <summary>
    /// The query plan of <paramref name="sql"/> in an analysed store of two kinds, like the benchmark's: 5,000 drafts, nearly
    /// all replies and executed, one in a hundred a post.
    /// </summary>
    private static List<string> PlanInStoreOfKinds(string sql, params (string Name, object Value)[] parameters) => PlanAfter("""
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
        INSERT INTO drafts(id, kind, agent, sha256, state, created_at, updated_at, state_since)
        SELECT 'd:' || i, CASE i % 100 WHEN 0 THEN 'post' ELSE 'reply' END, 'a', 'x', CASE i % 500 WHEN 3 THEN 'carded' ELSE 'executed' END, i, i, i FROM n;
        ANALYZE;
        """, sql, parameters);

    /// <summary>
    /// The query plan of <paramref name="sql"/> over a ledger like a real one: 5,000 events without a draft, nearly all
    /// of a common type, a few of the reported ones, analysed.
    /// </summary>
    private static List<string> PlanInLedger(string sql, params (string Name, object Value)[] parameters) => PlanAfter("""
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
        INSERT INTO events(draft_id, at, type, actor, details)
        SELECT NULL, i, CASE i % 1000 WHEN 0 THEN 'orphan_callback' WHEN 500 THEN 'security' ELSE 'submitted' END, 'a', '{}' FROM n;
        ANALYZE;
        """, sql, parameters);

    /// <summary>The query plan of <paramref name="sql"/> in a fresh store after <paramref name="seed"/> has run.</summary>
    private static List<string> PlanAfter(string seed, string sql, (string Name, object Value)[] parameters)
    {
        using var dir = new TempDirectory();
        using var db = Database(dir.Path);
        db.Initialize();
        using var connection = db.Open();
        Scalar(connection, seed);
        return Plan(connection, sql, parameters);
    }

    /// <summary>
    /// A store taken back to an older schema by <paramref name="olderShape"/> (which sets <c>user_version</c>), then
    /// opened by this build, which upgrades it. The columns and indexes the steps after <paramref name="version"/> add are
    /// taken away first (<see cref="DraftFixtures.UndoStepsAfter"/>).
    /// </summary>
    private static Upgraded UpgradedFrom(TempDirectory dir, string olderShape, int version = 6)
    {
        using (var db = Database(dir.Path))
        {
            db.Initialize();
            using var connection = db.Open();
            Scalar(connection, DraftFixtures.UndoStepsAfter(version) + olderShape);
        }
        var upgraded = Database(dir.Path);
        upgraded.Initialize();
        return new Upgraded(upgraded, upgraded.Open());
    }

    private sealed record Upgraded(SqliteDatabase Database, SqliteConnection Connection) : IDisposable
    {
        public void Dispose()
        {
            Connection.Dispose();
            Database.Dispose();
        }
    }

    /// <summary>The query plan of <paramref name="sql"/> in an empty store at the latest schema.</summary>
    private static List<string> PlanInFreshStore(string sql, params (string Name, object Value)[] parameters)
    {
        using var dir = new TempDirectory();
        using var db = Database(dir.Path);
        db.Initialize();
        using var connection = db.Open();
        return Plan(connection, sql, parameters);
    }

    private static List<string> Plan(SqliteConnection connection, string sql, (string Name, object Value)[] parameters)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "EXPLAIN QUERY PLAN " + sql;
        foreach (var (name, value) in parameters)
        {
            cmd.Parameters.AddWithValue(name, value);
        }
        var plan = new List<string>();
        using var reader = cmd.ExecuteReader();
        while (reader.Read()) plan.Add(reader.GetString(3));
        return plan;
    }

    [Fact]
    public void Initialize_StoreAtVersion3_TypeIndexNowHoldsReportedEventsOnly()
    {
        using var dir = new TempDirectory();
        using var upgraded = UpgradedFrom(dir, """
            DROP INDEX events_reported_by_type;
            CREATE INDEX events_by_type ON events(type, at);
            INSERT INTO events(draft_id, at, type, actor, details) VALUES (NULL, 1, 'submitted', 'a', '{}'), (NULL, 2, 'orphan_callback', 'telegram', '{}'), (NULL, 3, 'security', 'telegram:9', '{}');
            PRAGMA user_version = 3;
            """);
        var c = upgraded.Connection;
        Assert.Equal((long)SchemaMigrations.Latest, Scalar(c, "PRAGMA user_version"));
        Assert.Equal(0L, Scalar(c, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'events_by_type'"));
        Assert.Equal(1L, Scalar(c, "SELECT COUNT(*) FROM events INDEXED BY events_reported_by_type WHERE type = 'orphan_callback'" + DraftStore.ReportedTypesTerm));
        Assert.Equal(1L, Scalar(c, "SELECT COUNT(*) FROM events INDEXED BY events_reported_by_type WHERE type = 'security'" + DraftStore.ReportedTypesTerm));
        Assert.Equal(3L, Scalar(c, "SELECT COUNT(*) FROM events"));
    }

    [Fact]
    public void Initialize_SchemaNewerThanThisBuild_RefusedWithMessage()
    {
        using var dir = new TempDirectory();
        using (var db = Database(dir.Path))
        {
            db.Initialize();
            using var connection = db.Open();
            Scalar(connection, $"PRAGMA user_version = {SchemaMigrations.Latest + 1}");
        }
        using var newer = Database(dir.Path);

        var error = Assert.Throws<InvalidOperationException>(newer.Initialize);

        Assert.Contains("newer than this build understands", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Initialize_SecondWriterOnSameDirectory_Refused()
    {
        using var dir = new TempDirectory();
        using var first = Database(dir.Path);
        first.Initialize();
        using var second = Database(dir.Path);

        var error = Assert.Throws<StartupRefusedException>(second.Initialize);

        Assert.Contains("Another ApprovalBot process is using the data directory", error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// The OS refusing the lock file (here a symbolic-link loop; in life a data directory remounted read-only after disk
    /// errors) is said as that: "another process is using it" would send the operator looking for one that does not exist.
    /// </summary>
    [Fact]
    public void Initialize_LockFileUnopenable_RefusedWithTheOsReasonNotAnotherProcess()
    {
        using var dir = new TempDirectory();
        var lockPath = StoreLock.PathOf(Path.Combine(dir.Path, "approvals.db"));
        File.CreateSymbolicLink(lockPath, lockPath);
        using var db = Database(dir.Path);

        var error = Assert.Throws<StartupRefusedException>(db.Initialize);

        Assert.StartsWith($"ApprovalBot:DataDirectory '{dir.Path}' cannot be used: its lock '{lockPath}' cannot be opened: ", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir.Path, "approvals.db")));
    }

    /// <summary>Each case: what approvals.db is before the start, and what the refusal says it is.</summary>
    public static TheoryData<string, string> ForeignFiles => new()
    {
        { "CREATE TABLE customers (id INTEGER); CREATE TABLE orders (id INTEGER);", "it is another program's SQLite database, with tables customers, orders" },
        { "CREATE TABLE drafts (id TEXT); PRAGMA user_version = 3;", "it has no drafts, events and settings tables" },
        { "text", "it is not an SQLite database, or it is this service's store damaged past opening: then restore the latest backup into this folder (ApprovalBot restore <backup>) rather than move it" },
    };

    /// <summary>
    /// Another program's file where the store should be: the service writes nothing into it (before, version 0 got our
    /// tables and WAL mode, and other versions failed midway through a migration step with a raw SQLite error).
    /// </summary>
    [Theory]
    [MemberData(nameof(ForeignFiles))]
    public void Initialize_AnotherProgramsFile_RefusedAndLeftAsItWas(string content, string reason)
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "approvals.db");
        if (content == "text")
        {
            File.WriteAllText(path, "not a database, " + new string('x', 200));
        }
        else
        {
            SqliteFile.Execute(path, content);
        }
        var before = File.ReadAllBytes(path);
        using var db = Database(dir.Path);

        var error = Assert.Throws<StartupRefusedException>(db.Initialize);

        Assert.Equal($"'{path}' is not an ApprovalBot store ({reason}); it was left as it is. Move it out of the data directory, or set ApprovalBot:DataDirectory to the store's folder.", error.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.False(File.Exists(path + "-wal"));
    }

    [Fact]
    public void Initialize_EmptyFile_BecomesAStore()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(Path.Combine(dir.Path, "approvals.db"), []);
        using var db = Database(dir.Path);

        db.Initialize();

        using var connection = db.Open();
        Assert.Equal((long)SchemaMigrations.Latest, Scalar(connection, "PRAGMA user_version"));
    }

    [Fact]
    public void Initialize_WalLeftByAKilledProcess_FoldedIntoTheDatabaseAndTruncated()
    {
        using var killed = new TempDirectory();
        using var restarted = new TempDirectory();
        using (var db = Database(killed.Path))
        {
            db.Initialize();
            using var writer = db.OpenDedicated();
            Scalar(writer, "PRAGMA wal_autocheckpoint=0");
            for (var i = 0; i < 300; i++)
            {
                Scalar(writer, $"INSERT INTO settings(key, value) VALUES ('k{i}', '{new string('x', 500)}')");
            }
            // The files exactly as SIGKILL would leave them: the writer is still open, nothing was checkpointed.
            foreach (var file in new[] { "approvals.db", "approvals.db-wal" })
            {
                File.Copy(Path.Combine(killed.Path, file), Path.Combine(restarted.Path, file));
            }
        }
        var wal = Path.Combine(restarted.Path, "approvals.db-wal");
        Assert.True(new FileInfo(wal).Length > 100_000, "the copied WAL should hold the uncheckpointed inserts");

        using var again = Database(restarted.Path);
        again.Initialize();

        Assert.Equal(0, new FileInfo(wal).Length);
        using var reader = again.Open();
        Assert.Equal(300L, Scalar(reader, "SELECT COUNT(*) FROM settings WHERE key LIKE 'k%'"));
        Assert.Equal("ok", Scalar(reader, "PRAGMA integrity_check"));
    }

    [Theory]
    [InlineData("security")]
    [InlineData("orphan_callback")]
    public void RefusalLookup_AmongManyDraftlessEvents_SearchesThePartialIndexNotEveryDraftlessEvent(string type)
    {
        // Anyone messaging the bot adds draft-less events: the redelivery check must not walk all of them.
        var plan = PlanInLedger(ApprovalBot.Telegram.Updates.RefusalRecords.LookupSql(draftless: true, type, keyCount: 1),
            ("$type", type), ("$since", 0), ("$p0", "$.query_id"), ("$v0", "q"));

        Assert.Contains(plan, step => step.StartsWith("SEARCH events USING INDEX events_reported_by_type", StringComparison.Ordinal));
    }
}
