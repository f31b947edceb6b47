using System.Text.Json;
using ApprovalBot.Client;
using Microsoft.Data.Sqlite;

namespace ApprovalBot.Drafts;

/// <summary>
/// The drafts and their ledger. Writes go through the group-committing <see cref="DraftWriter"/> and are
/// acknowledged only after COMMIT; reads use their own pooled connections, which WAL lets run beside the writer.
/// </summary>
internal sealed class DraftStore(SqliteDatabase database, DraftWriter writer, DraftSignals signals)
{
    public DraftSignals Signals => signals;

    internal const string SubmittedIdSql = "SELECT seq, sha256 FROM drafts WHERE id = $id";

    internal const string InsertDraftSql =
        "INSERT INTO drafts(id, kind, agent, text, sha256, context, state, created_at, updated_at, state_since) " +
        "VALUES ($id, $kind, $agent, $text, $sha, $context, 'pending', $now, $now, $now) RETURNING seq";

    public Task<SubmitOutcome> SubmitAsync(NewDraft draft) =>
        writer.WriteAsync(ctx =>
        {
            using (var existing = ctx.Statement(SubmittedIdSql, ("$id", draft.Id)).ExecuteReader())
            {
                if (existing.Read())
                {
                    // The original receipt, as principle 4 promises, whatever happened to the draft since: a retrying
                    // agent sees the answer it missed (state pending, the same seq and sha256). get and wait tell the state now.
                    var sha = existing.GetString(1);
                    return string.Equals(sha, draft.Sha256, StringComparison.Ordinal)
                        ? new SubmitOutcome(new Receipt(draft.Id, existing.GetInt64(0), sha, States.Pending, Duplicate: true), null)
                        : new SubmitOutcome(null, sha);
                }
            }
            var insert = ctx.Statement(InsertDraftSql,
                ("$id", draft.Id), ("$kind", draft.Kind), ("$agent", draft.Agent), ("$text", draft.Text),
                ("$sha", draft.Sha256), ("$context", draft.ContextJson), ("$now", ctx.NowMs));
            var seq = (long)insert.ExecuteScalar()!;
            ctx.AppendEvent(draft.Id, "submitted", "agent:" + draft.Agent, SubmittedDetails(draft));
            ctx.Publish(new DraftChange(draft.Id, draft.Kind, null, DraftState.Pending));
            return new SubmitOutcome(new Receipt(draft.Id, seq, draft.Sha256, States.Pending, Duplicate: false), null);
        });

    /// <summary>{"kind":…,"sha256":…,"length":…}, written without reflection (this runs inside the writer for every submit).</summary>
    internal static string SubmittedDetails(NewDraft draft)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("kind", draft.Kind);
            json.WriteString("sha256", draft.Sha256);
            json.WriteNumber("length", draft.Text.Length);
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public Task<TransitionResult> TransitionAsync(Transition transition) =>
        writer.WriteAsync(ctx => Apply(ctx, transition));

    /// <summary>Applies a transition inside a write that is already running (to combine it with other statements).</summary>
    public static TransitionResult Apply(WriteContext ctx, Transition t)
    {
        var current = ctx.ReadDraft(t.Id);
        if (current is null || !t.From.Contains(current.State))
        {
            return new TransitionResult(false, current);
        }
        var moves = current.State != t.To;
        if (moves && !DraftStateMachine.CanMove(current.State, t.To))
        {
            throw new InvalidOperationException($"Draft {t.Id}: {current.State.ToWire()} -> {t.To.ToWire()} is not a transition of the state machine.");
        }
        var parameters = new List<(string, object?)> { ("$id", t.Id), ("$from", current.State.ToWire()), ("$to", t.To.ToWire()), ("$now", ctx.NowMs) };
        // Each entry into a state gets a state_since of its own, later than the last one even within a millisecond (or
        // under a stopped test clock): (state, state_since) names one episode, which a card's record of what it shows and an
        // escalation's Retry / Mark done buttons are bound to.
        var assignments = "state = $to, updated_at = $now" + (moves ? ", state_since = MAX($now, state_since + 1)" : "");
        foreach (var (column, value) in t.Set)
        {
            if (!DraftColumns.Settable.Contains(column))
            {
                throw new ArgumentException($"Column '{column}' cannot be set by a transition.", nameof(t));
            }
            assignments += $", {column} = ${column}";
            parameters.Add(("$" + column, value is DateTimeOffset at ? DraftColumns.ToUnixMs(at) : value));
        }
        var changed = ctx.Execute($"UPDATE drafts SET {assignments} WHERE id = $id AND state = $from", [.. parameters]);
        if (changed != 1)
        {
            return new TransitionResult(false, ctx.ReadDraft(t.Id));
        }
        var details = t.Details ?? [];
        if (moves)
        {
            details["from"] = current.State.ToWire();
            details["to"] = t.To.ToWire();
        }
        ctx.AppendEvent(t.Id, t.EventType, t.Actor, details.ToJsonString());
        if (moves)
        {
            ctx.Publish(new DraftChange(t.Id, current.Kind, current.State, t.To));
        }
        return new TransitionResult(true, ctx.ReadDraft(t.Id));
    }

    /// <summary>Appends a ledger event that moves no draft (a refused tap, a security event, an orphan callback).</summary>
    public Task AppendEventAsync(string? draftId, string type, string actor, string? detailsJson) =>
        writer.WriteAsync(ctx =>
        {
            ctx.AppendEvent(draftId, type, actor, detailsJson);
            return true;
        });

    /// <summary>Runs arbitrary statements in the next group commit. For features that must combine several writes atomically.</summary>
    public Task<T> WriteAsync<T>(Func<WriteContext, T> work) =>
        writer.WriteAsync(work);

    public Draft? Get(string id) => Query(DraftColumns.Select + " WHERE id = $id", ("$id", id)).SingleOrDefault();

    public Draft? GetBySeq(long seq) => Query(DraftColumns.Select + " WHERE seq = $seq", ("$seq", seq)).SingleOrDefault();

    /// <summary>
    /// Newest first, optionally filtered by state and kind, and with <paramref name="before"/> only drafts of a smaller
    /// seq (the next page of a list). With a state, drafts_by_state is read backwards from the newest draft of that
    /// state (below <paramref name="before"/>: its entries end with the rowid, which is seq, so that is where the range
    /// starts), so a rare state costs what a common one does, and a page deep in a big store what the first page does;
    /// with a kind alone, drafts_by_kind the same way; with neither, the table itself is read backwards from there. The
    /// conditions are left out rather than written as <c>($state IS NULL OR state = $state)</c>, a form SQLite cannot
    /// search an index with.
    /// </summary>
    public IReadOnlyList<Draft> List(DraftState? state, string? kind, int limit, long? before = null) => Query(
        ListSql(state is not null, kind is not null, before is not null),
        ("$state", state?.ToWire()), ("$kind", kind), ("$before", before), ("$limit", limit));

    internal static string ListSql(bool byState, bool byKind, bool byBefore = false)
    {
        var conditions = new List<string>(3);
        if (byState) conditions.Add("state = $state");
        // With a state, the kind is checked on the state's entries (+ keeps SQLite off drafts_by_kind, which it would pick
        // in a store without statistics): the states asked for are mostly rare ones, and a kind's entries read until
        // enough of them are in a rare state would be nearly all of that kind.
        if (byKind) conditions.Add(byState ? "+kind = $kind" : "kind = $kind");
        if (byBefore) conditions.Add("seq < $before");
        return DraftColumns.Select + (conditions.Count == 0 ? "" : " WHERE " + string.Join(" AND ", conditions)) + " ORDER BY seq DESC LIMIT $limit";
    }

    /// <summary>
    /// Drafts awaiting a decision in the order they were submitted: a draft whose card went out late (after retries)
    /// keeps its place instead of queueing behind younger drafts, as it would by the time it entered its state.
    /// </summary>
    public IReadOnlyList<Draft> AwaitingDecision(int limit) => Query(
        DraftColumns.Select + " WHERE state IN ('pending', 'carded') ORDER BY seq LIMIT $limit", ("$limit", limit));

    /// <summary>How many drafts await a decision (pending or carded).</summary>
    public int CountAwaitingDecision() => Read(connection =>
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*) FROM drafts WHERE state IN ('pending', 'carded')";
        return Convert.ToInt32(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    });

    public IReadOnlyList<LedgerEvent> Events(string draftId) => Read(connection =>
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT id, draft_id, at, type, actor, details FROM events WHERE draft_id = $id ORDER BY id";
        cmd.Parameters.AddWithValue("$id", draftId);
        return ReadEvents(cmd);
    });

    /// <summary>
    /// The event types the reconciler looks up by type; only these are indexed by type (schema step 4), so that the
    /// events every submit writes do not pay for an index nobody searches.
    /// </summary>
    public static readonly IReadOnlySet<string> ReportedEventTypes =
        new HashSet<string>(StringComparer.Ordinal) { "orphan_callback", "lease_expired", "security", "gap_dismissed" };

    /// <summary>
    /// The WHERE term of the partial index events_reported_by_type (schema step 5). SQLite uses a partial index only
    /// when the query repeats its term, so a query for one of <see cref="ReportedEventTypes"/> appends this.
    /// </summary>
    internal const string ReportedTypesTerm = " AND type IN ('orphan_callback', 'lease_expired', 'security', 'gap_dismissed')";

    /// <summary>The query of <see cref="EventsOfType"/> (parameters <c>$type</c>, <c>$since</c>, <c>$limit</c>).</summary>
    internal static string EventsOfTypeSql(string type) =>
        "SELECT id, draft_id, at, type, actor, details FROM events WHERE type = $type" +
        (ReportedEventTypes.Contains(type) ? ReportedTypesTerm : "") +
        " AND at >= $since ORDER BY id LIMIT $limit";

    /// <summary>Events of one type, oldest first. An index search for <see cref="ReportedEventTypes"/>; a scan of the ledger for any other type.</summary>
    public IReadOnlyList<LedgerEvent> EventsOfType(string type, DateTimeOffset? since = null, int limit = 1000) => Read(connection =>
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = EventsOfTypeSql(type);
        cmd.Parameters.AddWithValue("$type", type);
        cmd.Parameters.AddWithValue("$since", since is { } s ? DraftColumns.ToUnixMs(s) : 0L);
        cmd.Parameters.AddWithValue("$limit", limit);
        return ReadEvents(cmd);
    });

    /// <summary>The query of <see cref="LastEventAt"/> (parameters <c>$id</c>, <c>$type</c>): a search of the draft's own events.</summary>
    internal const string LastEventAtSql = "SELECT MAX(at) FROM events WHERE draft_id = $id AND type = $type";

    /// <summary>
    /// When the draft's latest event of <paramref name="type"/> was written; null when it has none. On a connection the
    /// caller holds, so a reader going through drafts can ask about each in the snapshot it reads them from.
    /// </summary>
    internal static DateTimeOffset? LastEventAt(SqliteConnection connection, string draftId, string type)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = LastEventAtSql;
        cmd.Parameters.AddWithValue("$id", draftId);
        cmd.Parameters.AddWithValue("$type", type);
        return cmd.ExecuteScalar() is long at ? DateTimeOffset.FromUnixTimeMilliseconds(at) : (DateTimeOffset?)null;
    }

    /// <summary>
    /// The query of <see cref="LastEventOf"/>: the draft's (<c>$id</c>) latest
    /// event of the types <c>$t0</c>… (<paramref name="types"/> of them), a search of its own events read backwards.
    /// </summary>
    internal static string LastEventOfSql(int types) =>
        "SELECT id, draft_id, at, type, actor, details FROM events WHERE id = (" + LastEventIdSql("$id", types) + ")";

    /// <summary>
    /// The id of the latest event of the types <c>$t0</c>… of the draft whose id is <paramref name="draftId"/> (a parameter,
    /// or a column of an outer query): events_by_draft, read backwards from the draft's newest event.
    /// </summary>
    private static string LastEventIdSql(string draftId, int types) =>
        $"SELECT id FROM events WHERE draft_id = {draftId} AND type IN ({DraftColumns.InList("$t", types)}) ORDER BY id DESC LIMIT 1";

    /// <summary>The draft's latest event of one of <paramref name="types"/>; null when it has none. Inside a write, in its snapshot.</summary>
    public static LedgerEvent? LastEventOf(WriteContext ctx, string draftId, params IReadOnlyList<string> types)
    {
        using var cmd = ctx.Command(LastEventOfSql(types.Count), [("$id", draftId), .. TypeParameters(types)]);
        return ReadEvents(cmd).SingleOrDefault();
    }

    /// <summary>
    /// The draft's latest event of one of <paramref name="types"/> written before the event <paramref name="beforeId"/>; null
    /// when it has none. Inside a write, in its snapshot.
    /// </summary>
    public static LedgerEvent? LastEventBefore(WriteContext ctx, string draftId, long beforeId, params IReadOnlyList<string> types)
    {
        using var cmd = ctx.Command(
            $"SELECT id, draft_id, at, type, actor, details FROM events WHERE draft_id = $id AND id < $before AND type IN ({DraftColumns.InList("$t", types.Count)}) ORDER BY id DESC LIMIT 1",
            [("$id", draftId), ("$before", beforeId), .. TypeParameters(types)]);
        return ReadEvents(cmd).SingleOrDefault();
    }

    /// <summary>
    /// The query of <see cref="LastEventsOf"/>: of every draft in the state <c>$state</c>, the latest event of the types
    /// <c>$t0</c>… (<paramref name="types"/> of them); drafts_by_state finds the drafts, then each one's own events are searched.
    /// </summary>
    internal static string LastEventsOfSql(int types) =>
        "SELECT e.id, e.draft_id, e.at, e.type, e.actor, e.details FROM drafts d JOIN events e ON e.id = (" + LastEventIdSql("d.id", types) + ") WHERE d.state = $state";

    /// <summary>
    /// <see cref="LastEventOf"/> for every draft in <paramref name="state"/> at once, by draft id (a draft with none is left
    /// out): one query rather than one per draft. On a connection the caller holds, so it reads the snapshot its other reads do.
    /// </summary>
    internal static Dictionary<string, LedgerEvent> LastEventsOf(SqliteConnection connection, DraftState state, params IReadOnlyList<string> types)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = LastEventsOfSql(types.Count);
        foreach (var (name, value) in TypeParameters(types).Append(("$state", state.ToWire())))
        {
            cmd.Parameters.AddWithValue(name, value);
        }
        return ReadEvents(cmd).ToDictionary(e => e.DraftId!, StringComparer.Ordinal);
    }

    private static (string Name, object? Value)[] TypeParameters(IReadOnlyList<string> types) => DraftColumns.InListParameters("$t", types);

    public string? GetSetting(string key) => Read(connection =>
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT value FROM settings WHERE key = $key";
        cmd.Parameters.AddWithValue("$key", key);
        return cmd.ExecuteScalar() as string;
    });

    public Task SetSettingAsync(string key, string value) => writer.WriteAsync(ctx => ctx.SetSetting(key, value));

    /// <summary>Runs a read on its own pooled connection.</summary>
    public T Read<T>(Func<SqliteConnection, T> read)
    {
        try
        {
            using var connection = database.Open();
            return read(connection);
        }
        catch (SqliteException ex)
        {
            throw new StoreUnavailableException("The store could not be read: " + ex.Message, ex);
        }
    }

    /// <summary>Runs a <see cref="DraftColumns.Select"/> query with its parameters and reads every row.</summary>
    public IReadOnlyList<Draft> Query(string sql, params (string Name, object? Value)[] parameters) => Read(connection =>
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }
        using var reader = cmd.ExecuteReader();
        var drafts = new List<Draft>();
        while (reader.Read())
        {
            drafts.Add(DraftColumns.Read(reader));
        }
        return drafts;
    });

    private static List<LedgerEvent> ReadEvents(SqliteCommand cmd)
    {
        using var reader = cmd.ExecuteReader();
        var events = new List<LedgerEvent>();
        while (reader.Read())
        {
            events.Add(new LedgerEvent(
                reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetString(1),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)), reader.GetString(3), reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetString(5)));
        }
        return events;
    }
}
