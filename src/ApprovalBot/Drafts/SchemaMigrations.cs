using Microsoft.Data.Sqlite;

namespace ApprovalBot.Drafts;

/// <summary>
/// The schema, versioned by <c>PRAGMA user_version</c>. Each migration runs once, in order, in its own
/// transaction; a migration is never edited after it has shipped, only followed by a new one.
/// </summary>
internal static class SchemaMigrations
{
    private static readonly string[] Steps =
    [
        // 1: drafts, the append-only ledger, and small key/value settings (e.g. the Telegram offset).
        """
        CREATE TABLE drafts (
            seq             INTEGER PRIMARY KEY AUTOINCREMENT,
            id              TEXT    NOT NULL UNIQUE,
            kind            TEXT    NOT NULL,
            agent           TEXT    NOT NULL,
            text            TEXT,
            sha256          TEXT    NOT NULL,
            context         TEXT,
            state           TEXT    NOT NULL,
            created_at      INTEGER NOT NULL,
            updated_at      INTEGER NOT NULL,
            state_since     INTEGER NOT NULL,
            card_chat_id    INTEGER,
            card_message_id INTEGER,
            card_attempts   INTEGER NOT NULL DEFAULT 0,
            card_next_at    INTEGER,
            card_error      TEXT,
            decision        TEXT,
            decided_by      INTEGER,
            decided_by_name TEXT,
            decided_at      INTEGER,
            decision_sha256 TEXT,
            exec_attempts   INTEGER NOT NULL DEFAULT 0,
            exec_next_at    INTEGER,
            exec_key        TEXT,
            lease_token     TEXT,
            lease_until     INTEGER,
            exec_result     TEXT,
            exec_error      TEXT,
            exec_at         INTEGER
        );
        CREATE INDEX drafts_by_state ON drafts(state, state_since);
        CREATE INDEX drafts_by_kind_state ON drafts(kind, state, state_since);
        CREATE TABLE events (
            id       INTEGER PRIMARY KEY AUTOINCREMENT,
            draft_id TEXT REFERENCES drafts(id),
            at       INTEGER NOT NULL,
            type     TEXT    NOT NULL,
            actor    TEXT    NOT NULL,
            details  TEXT
        );
        CREATE INDEX events_by_draft ON events(draft_id, id);
        CREATE INDEX events_by_type ON events(type, at);
        CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
            BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
        CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
            BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
        CREATE TABLE settings (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """,
        // 2: escalation state of each gap the reconciler found, so a gap is escalated once and then reminded on a schedule.
        """
        CREATE TABLE escalations (
            gap_key     TEXT PRIMARY KEY,
            report      TEXT    NOT NULL,
            gap         TEXT    NOT NULL,
            draft_id    TEXT,
            first_seen  INTEGER NOT NULL,
            last_sent   INTEGER,
            sent_count  INTEGER NOT NULL DEFAULT 0,
            resolved_at INTEGER
        );
        CREATE INDEX escalations_open ON escalations(resolved_at, last_sent);
        """,
        // 3: the (kind, state, state_since) index only served lookups of approved drafts by kind (the executor's and
        // the pull claim's), yet every submit and every state change wrote it: a WAL page of ~9 per submit, ~10 us of
        // a commit. Now it holds approved drafts only, so a submit no longer touches it; the other states are found
        // through drafts_by_state.
        """
        DROP INDEX drafts_by_kind_state;
        CREATE INDEX drafts_approved_by_kind ON drafts(kind, state_since) WHERE state = 'approved';
        """,
        // 4: events_by_type was written by every submit and transition (a WAL page each) but only ever searched for
        // the two event types the reconciler reports (DraftStore.ReportedEventTypes); it now holds only those.
        """
        DROP INDEX events_by_type;
        CREATE INDEX events_reported_by_type ON events(type, at) WHERE type IN ('orphan_callback', 'lease_expired');
        """,
        // 5: refusals (security events) and gap dismissals are looked up by type too: a redelivered refused update is
        // checked against the refusals recorded before it, and every reconcile reads the dismissals. Filed under no
        // draft, they were found by scanning every draft-less event, which anyone can add to by messaging the bot.
        """
        DROP INDEX events_reported_by_type;
        CREATE INDEX events_reported_by_type ON events(type, at) WHERE type IN ('orphan_callback', 'lease_expired', 'security', 'gap_dismissed');
        """,
        // 6: list with a state filter read the table newest-first until it had found enough drafts of that state, so a
        // rare state read nearly all of it (175 ms in a store of a million drafts, more from a cold cache). Now the
        // drafts of a state are kept in seq order in drafts_by_state (an index's entries end with the rowid, which is
        // seq), and a list reads that state's newest entries only. Same writes as before. Its other readers look up
        // states that still await something, a few thousand drafts at most, and sort those by state_since themselves.
        // Rebuilding the index takes about 0.6 s per million drafts here, once.
        """
        DROP INDEX drafts_by_state;
        CREATE INDEX drafts_by_state ON drafts(state);
        """,
        // 7: the state the card on record last showed (card_shown_state: written with the card and after each edit that
        // Telegram took, or refused for good). A card whose edit was still being retried in memory when the process stopped kept its buttons,
        // or an older outcome, for good; now a draft whose state differs from what its card shows is in
        // drafts_card_behind, which the card follow-ups read at start: it holds only those cards (a few, however big
        // the store), and a submit, whose draft has no card yet, never writes it. NULL <> state is not true, so cards of
        // drafts that are final already are assumed to show their state, as before this step (nothing recorded could
        // tell otherwise); cards of drafts that can still change are assumed to show the buttons they were sent with,
        // so each one decided since is shown its draft's state once more at the first start (an edit changing nothing
        // counts as done). Building the index reads the table once: about 1.3 s per million drafts here, once.
        """
        ALTER TABLE drafts ADD COLUMN card_shown_state TEXT;
        ALTER TABLE drafts ADD COLUMN card_shown_since INTEGER;
        UPDATE drafts SET card_shown_state = 'carded'
            WHERE state IN ('carded', 'approved', 'executing', 'failed', 'blocked', 'unknown') AND card_message_id IS NOT NULL;
        CREATE INDEX drafts_card_behind ON drafts(id) WHERE card_shown_state <> state OR card_shown_since <> state_since;
        """,
        // 8: who withdrew a cancelled draft and why (the pipe's cancel: cancelled_by 'agent', the reason as given), kept on
        // the draft so its card renders from the row alone, as every other state does, and the agent's view shows it. NULL
        // for every draft before this step and for an approver's Discard. Adding nullable columns rewrites no row.
        """
        ALTER TABLE drafts ADD COLUMN cancelled_by TEXT;
        ALTER TABLE drafts ADD COLUMN cancel_reason TEXT;
        """,
        // 9: the stale report's awaiting_human gap is keyed by its episode too (the draft's state_since, GapFinder): a Retry
        // that failed again before a cycle saw it was taken for the escalation already sent. An open escalation under the
        // key without it is given its draft's episode, so the upgrade does not send every failed or unknown draft's
        // escalation again. One whose draft has left those states, or entered them again since it was last sent (a Retry
        // that failed again unseen: the very case of the new key), keeps its key; the next cycle resolves it and sends the
        // new outcome's escalation.
        """
        UPDATE escalations SET gap_key = gap_key || ':' || (SELECT d.state_since FROM drafts d WHERE d.id = escalations.draft_id)
        WHERE resolved_at IS NULL AND report = 'stale' AND gap = 'awaiting_human' AND gap_key = 'stale:awaiting_human:' || draft_id
            AND EXISTS (SELECT 1 FROM drafts d WHERE d.id = escalations.draft_id AND d.state IN ('failed', 'unknown')
                AND d.state_since <= escalations.last_sent);
        """,
        // 10: the orphans report's lease_expired gap is keyed by its draft, no longer by each expiry's event (GapFinder): a
        // draft whose lease expired three times was three gaps and three escalations. Of the open escalations under the
        // old keys ('orphans:lease_expired:' and an event id), the one of each draft delivered last is given the draft's
        // key, so the upgrade sends none of them again and reminds on that one's schedule; the draft's others are resolved.
        // A key already taken (a closed escalation of an event whose id is the draft's id, digits only) is left as it was:
        // the next cycle resolves it and escalates the draft under its key.
        """
        UPDATE escalations SET resolved_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
        WHERE resolved_at IS NULL AND gap = 'lease_expired' AND draft_id IS NOT NULL
            AND substr(gap_key, 1, 22) = 'orphans:lease_expired:' AND substr(gap_key, 23) <> '' AND substr(gap_key, 23) NOT GLOB '*[^0-9]*'
            AND EXISTS (SELECT 1 FROM escalations k WHERE k.resolved_at IS NULL AND k.gap = 'lease_expired' AND k.draft_id = escalations.draft_id
                AND substr(k.gap_key, 1, 22) = 'orphans:lease_expired:' AND substr(k.gap_key, 23) <> '' AND substr(k.gap_key, 23) NOT GLOB '*[^0-9]*'
                AND (IFNULL(k.last_sent, -1), k.gap_key) > (IFNULL(escalations.last_sent, -1), escalations.gap_key));
        UPDATE OR IGNORE escalations SET gap_key = 'orphans:lease_expired:' || draft_id
        WHERE resolved_at IS NULL AND gap = 'lease_expired' AND draft_id IS NOT NULL
            AND substr(gap_key, 1, 22) = 'orphans:lease_expired:' AND substr(gap_key, 23) <> '' AND substr(gap_key, 23) NOT GLOB '*[^0-9]*';
        """,
        // 11: who marked an unknown draft done (an approver's Mark done: unknown -> executed), kept on the draft so its view says
        // that a person, not a run, settled it; NULL for every other draft. The drafts marked done before this step are
        // found in the ledger (their marked_done event; the actor is 'telegram:' and the approver's id), by name unknown.
        // Reads each executed draft's own events once: about 2 s per million drafts here, once.
        """
        ALTER TABLE drafts ADD COLUMN marked_done_by INTEGER;
        ALTER TABLE drafts ADD COLUMN marked_done_by_name TEXT;
        UPDATE drafts SET marked_done_by = IFNULL((SELECT CASE WHEN e.actor GLOB 'telegram:[0-9]*' THEN CAST(substr(e.actor, 10) AS INTEGER) ELSE 0 END
                FROM events e WHERE e.draft_id = drafts.id AND e.type = 'marked_done' ORDER BY e.id DESC LIMIT 1), 0)
            WHERE state = 'executed' AND EXISTS (SELECT 1 FROM events e WHERE e.draft_id = drafts.id AND e.type = 'marked_done');
        """,
        // 12: list by kind without a state read the table newest-first until it had found enough drafts of that kind, so
        // a rare kind read nearly all of it (a million rows for `list --kind post` in the benchmark's store). The drafts of
        // a kind are now kept in seq order in drafts_by_kind (its entries end with the rowid, which is seq), and such a list
        // reads that kind's newest entries only, from a `before` too. A kind never changes, so only a submit writes it.
        // With a state too, drafts_by_state still serves the list (see DraftStore.ListSql). Building it reads the table once.
        """
        CREATE INDEX drafts_by_kind ON drafts(kind);
        """,
    ];

    public static int Latest => Steps.Length;

    /// <summary>
    /// Why the open file is not an ApprovalBot store, or null when it is one: a new, empty file counts (step 1 makes
    /// it one). Another program's database must not have our tables written into it, nor fail midway through a step.
    /// </summary>
    public static string? NotAStoreBecause(SqliteConnection connection)
    {
        var version = Convert.ToInt32(Scalar(connection, "PRAGMA user_version"), System.Globalization.CultureInfo.InvariantCulture);
        var ours = Convert.ToInt64(Scalar(connection,
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('drafts', 'events', 'settings')"), System.Globalization.CultureInfo.InvariantCulture);
        if (version >= 1)
        {
            return ours == 3 ? null : "it has no drafts, events and settings tables";
        }
        var tables = new List<string>();
        using (var cmd = connection.CreateCommand())
        {
            cmd.CommandText = "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name LIMIT 6";
            using var reader = cmd.ExecuteReader();
            while (reader.Read())
            {
                tables.Add(reader.GetString(0));
            }
        }
        return tables.Count == 0 ? null : $"it is another program's SQLite database, with tables {string.Join(", ", tables.Take(5))}{(tables.Count > 5 ? ", …" : "")}";
    }

    public static void Apply(SqliteConnection connection)
    {
        var version = Convert.ToInt32(Scalar(connection, "PRAGMA user_version"), System.Globalization.CultureInfo.InvariantCulture);
        if (version > Latest)
        {
            throw new InvalidOperationException(
                $"The database schema is version {version}, newer than this build understands ({Latest}). Run a newer ApprovalBot.");
        }
        for (var step = version; step < Latest; step++)
        {
            using var tx = connection.BeginTransaction();
            using (var cmd = connection.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = Steps[step] + $"\nPRAGMA user_version = {step + 1};";
                cmd.ExecuteNonQuery();
            }
            tx.Commit();
        }
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }
}
