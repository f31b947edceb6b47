using System.Globalization;
using ApprovalBot.Drafts;
using ApprovalBot.Execution;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Reconciliation;

/// <summary>
/// Finds every gap class of DESIGN.md in the store. Each query is bounded by the state index (or the event
/// index), so a report stays fast however many executed drafts the store holds. The text column is read only for
/// approved and executing drafts, to re-check their hash; every other query asks only whether the text is there.
/// A report lists at most <see cref="Limit"/> gaps of each class (<see cref="GapListing"/>) and says how many more exist.
/// </summary>
internal sealed class GapFinder(
    DraftStore store, IOptionsMonitor<KindsOptions> kinds, IRouteLookup routes, IOptions<ReconciliationOptions> options, TimeProvider time,
    int limit = GapFinder.DefaultLimit)
{
    /// <summary>Most gaps of one class in one report; beyond it the class's <c>more</c> gap says how many more exist.</summary>
    internal const int DefaultLimit = 10_000;

    /// <summary>
    /// How long a pending draft waits for its card before that is a gap (<see cref="Gaps.CardWaiting"/>). A card goes out
    /// within seconds, or waits out a 429 or a 5xx; one that waits for a chat or a token Telegram refuses is never given up,
    /// and without this would show only as stale a day later. A card given up is <see cref="Gaps.CardUndelivered"/> at once.
    /// </summary>
    internal static readonly TimeSpan CardWaitReportedAfter = TimeSpan.FromMinutes(10);

    /// <summary><see cref="DefaultLimit"/>, or less in tests, which then need a handful of drafts rather than ten thousand.</summary>
    internal int Limit { get; } = limit;

    /// <summary>
    /// <see cref="DraftColumns.Select"/> with the text replaced by an empty string when present (null when missing):
    /// for states whose gaps never need the text itself.
    /// </summary>
    internal static readonly string SelectWithoutText = DraftColumns.Select.Replace(
        "kind, agent, text, sha256", "kind, agent, CASE WHEN text IS NULL THEN NULL ELSE '' END, sha256", StringComparison.Ordinal);

    public IReadOnlyList<Gap> Find(string report) => report switch
    {
        Gaps.Orphans => InOneSnapshot(c => Orphans(c, time.GetUtcNow())),
        Gaps.Stale => InOneSnapshot(c => Stale(c, time.GetUtcNow())),
        _ => throw new ArgumentOutOfRangeException(nameof(report), report, "orphans or stale"),
    };

    public IReadOnlyList<Gap> All()
    {
        var now = time.GetUtcNow();
        return InOneSnapshot(c => [.. Orphans(c, now), .. Stale(c, now)]);
    }

    /// <summary>
    /// Every query of a report reads the store as of one moment (one read transaction): read one after another, a draft
    /// that changed state between two of them was reported twice (executing as not_executed, then failed as
    /// awaiting_human) or not at all, and a cycle that missed a gap for that moment resolved its escalation, to send it
    /// again as new the next cycle. A read transaction holds no lock in WAL mode; writers go on meanwhile.
    /// </summary>
    private List<Gap> InOneSnapshot(Func<SqliteConnection, List<Gap>> report) => store.Read(connection =>
    {
        // The connection's commands (CreateCommand) join it; disposing it rolls it back, also after a failure that SQLite
        // already rolled back itself, so the connection never goes back to the pool inside it.
        using var snapshot = connection.BeginTransaction(deferred: true);
        return report(connection);
    });

    /// <summary>
    /// Hands every draft in <paramref name="states"/> to <paramref name="visit"/>, oldest first (by the time it entered its
    /// state, or by <paramref name="orderBy"/>), with the text only when <paramref name="withText"/>. Every one, not the
    /// first <see cref="Limit"/>: whether a draft is a gap is decided here (by its kind, route, age, text), so a cap on the
    /// rows read would drop the gaps behind drafts that are none, unsaid; the cap is on gaps listed (<see cref="GapListing"/>).
    /// The rows are streamed, not held, and <paramref name="visit"/> may query <paramref name="connection"/>, in the same snapshot.
    /// </summary>
    private static void ForEachInStates(SqliteConnection connection,
        IReadOnlyCollection<DraftState> states, bool withText, Action<Draft> visit, string orderBy = "state_since, seq")
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = InStatesSql(states, withText, orderBy);
        using var reader = cmd.ExecuteReader();
        while (reader.Read())
        {
            visit(DraftColumns.Read(reader));
        }
    }

    /// <summary>
    /// The query of <see cref="ForEachInStates"/>: drafts_by_state finds the drafts of the states (which still await
    /// something, so they are few) and they are sorted after.
    /// </summary>
    internal static string InStatesSql(IReadOnlyCollection<DraftState> states, bool withText, string orderBy = "state_since, seq")
    {
        var names = string.Join(", ", states.Select(s => "'" + s.ToWire() + "'"));
        return (withText ? DraftColumns.Select : SelectWithoutText) + $" WHERE state IN ({names}) ORDER BY {orderBy}";
    }

    private List<Gap> Orphans(SqliteConnection connection, DateTimeOffset now)
    {
        var gaps = new GapListing(Gaps.Orphans, Limit);
        ForEachInStates(connection, [DraftState.Blocked], withText: false, d => gaps.Add(BlockedGap(d)));
        ForEachInStates(connection, [DraftState.Approved, DraftState.Executing], withText: true, d =>
        {
            if (ApprovalOrphan(d, now) is { } gap)
            {
                gaps.Add(gap);
            }
        });
        ForEachInStates(connection, [DraftState.Pending, DraftState.Carded], withText: false, d =>
        {
            if (d.Text is null)
            {
                // Gone behind the service's back: no approval can bind it (ApprovableText), so it waits for a Reject nobody
                // is asked for. Said now, not at the first refused Approve tap. A carded one gets a fresh card (Reject only),
                // as Reject on a card is how a carded draft is discarded; one with no card yet can be discarded here.
                gaps.Add(Draft(Gaps.Orphans, Gaps.TextMissing, d, d.StateSince,
                    $"draft awaiting a decision whose text is missing from the store (it cannot be approved, only rejected); stored sha256 {d.Sha256}",
                    d.State == DraftState.Carded ? [ApproverAction.ResendCard] : [ApproverAction.Discard]));
            }
            if (d.State == DraftState.Carded)
            {
                // Sent, but Telegram's answer could not be read (the card outbox's card_unconfirmed): most likely in the chat,
                // with no message on record for the outcome to be shown on; card_error says so. Resend card sends one that is
                // recorded (a carded draft cannot be discarded: Reject on the card does that).
                if (d is { CardMessageId: null, CardError: { } error })
                {
                    gaps.Add(Draft(Gaps.Orphans, Gaps.CardUnconfirmed, d, d.StateSince, "card sent unconfirmed: " + error, [ApproverAction.ResendCard]));
                }
            }
            else if (d.CardError is not null && d.CardNextAt is null)
            {
                var gap = Draft(Gaps.Orphans, Gaps.CardUndelivered, d, d.CreatedAt, $"card not delivered after {d.CardAttempts} attempt(s): {d.CardError}",
                    [ApproverAction.Retry, ApproverAction.Discard]);
                // A Retry that fails again is a new failure for the approver who asked for it, escalated as new rather than
                // reminded of hours later: the key names the episode by the last Retry (the state stays pending throughout).
                gaps.Add(LastCardRetry(connection, d.Id) is { } retry ? gap with { Key = gap.Key + ":" + retry.ToString(CultureInfo.InvariantCulture) } : gap);
            }
            else if (d.CreatedAt <= now - CardWaitReportedAfter)
            {
                // Not given up, and no card yet: a chat or a token Telegram refuses keeps every card waiting until someone
                // acts, and the outbox then tries one card per sweep, so most waiting drafts have no card_error of their own.
                gaps.Add(Draft(Gaps.Orphans, Gaps.CardWaiting, d, d.CreatedAt, d.CardError is { } error
                    ? $"no card for {Age(now - d.CreatedAt)}, still tried: {error}"
                    : $"no card for {Age(now - d.CreatedAt)}, not tried yet (the card outbox is held up; its log says why)", []));
            }
        });
        var since = now - options.Value.EventWindow;
        OrphanCallbacks(connection, since, gaps);
        LeaseExpiries(connection, since, gaps);
        return gaps.ToList();
    }

    /// <summary>The ledger id of the draft's last card_retry_requested event (an approver's Retry of a card given up on), if any.</summary>
    private static long? LastCardRetry(SqliteConnection connection, string id)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT MAX(id) FROM events WHERE draft_id = $id AND type = 'card_retry_requested'";
        cmd.Parameters.AddWithValue("$id", id);
        return cmd.ExecuteScalar() is long last ? last : null;
    }

    /// <summary>The orphan an approved or executing draft is, if it is one.</summary>
    private Gap? ApprovalOrphan(Draft d, DateTimeOffset now)
    {
        // Approvals not yet checked by an executor: the text must still be there and still be the approved text.
        if (d.State == DraftState.Approved && HandoffCheck.Verify(d) is { } problem)
        {
            return HandoffGap(d, problem.Code, "approved, will be blocked before execution", [ApproverAction.Discard]);
        }
        if (d.State == DraftState.Executing && (d.Text is null || DraftHash.Of(d.Text) != d.Sha256))
        {
            // No Discard: a draft being executed cannot be discarded (the button would only be answered so), as not_executed
            // offers none while its run is under way.
            return HandoffGap(d, d.Text is null ? "text_missing" : "text_changed", "vanished or changed while executing", []);
        }
        var route = routes.RouteType(d.Kind);
        if (d.State != DraftState.Approved || route is not (null or "pull") || d.StateSince > now - StuckAfter(d.Kind))
        {
            return null;
        }
        return route is null
            ? Draft(Gaps.Orphans, Gaps.NoRoute, d, d.StateSince, $"kind '{d.Kind}' has no executor route; nobody picks this up", [ApproverAction.Discard])
            : Draft(Gaps.Orphans, Gaps.PullUnclaimed, d, d.StateSince, $"no agent claimed it from the pull route of kind '{d.Kind}'", [ApproverAction.Discard]);
    }

    private List<Gap> Stale(SqliteConnection connection, DateTimeOffset now)
    {
        var gaps = new GapListing(Gaps.Stale, Limit);
        // The agent has waited since it submitted: a card that went out late (pending -> carded resets state_since)
        // does not restart the clock. In submission order, as /pending lists them.
        ForEachInStates(connection, [DraftState.Pending, DraftState.Carded], withText: false, d =>
        {
            if (d.CreatedAt <= now - StaleAfter(d.Kind))
            {
                // A carded draft's card may be gone (deleted in the chat) or out of reach: the escalation offers a fresh one. A
                // pending draft has none yet; its card is the outbox's (card_waiting, or card_undelivered with its own Retry).
                gaps.Add(Draft(Gaps.Stale, Gaps.AwaitingDecision, d, d.CreatedAt, $"awaiting a decision for {Age(now - d.CreatedAt)}",
                    d.State == DraftState.Carded ? [ApproverAction.ResendCard] : []));
            }
        }, orderBy: "seq");
        ForEachInStates(connection, [DraftState.Approved, DraftState.Executing], withText: false, d =>
        {
            if (NotExecuted(d, now, connection) is { } gap)
            {
                gaps.Add(gap);
            }
        });
        var howUnknown = DraftStore.LastEventsOf(connection, DraftState.Unknown, UnknownCauses);
        ForEachInStates(connection, [DraftState.Failed, DraftState.Unknown], withText: false,
            d => gaps.Add(AwaitingHuman(d, d.State == DraftState.Unknown ? howUnknown.GetValueOrDefault(d.Id) : null)));
        return gaps.ToList();
    }

    /// <summary>
    /// Keyed by the episode (the draft's state_since) as well: a Retry that failed or came out unknown again before any
    /// cycle saw the draft leave failed/unknown is a new outcome, and the first message's Retry and Mark done, bound to the
    /// old one, send the approver to "its latest escalation". Under the draft's key alone that was a reminder, hours later.
    /// </summary>
    private Gap AwaitingHuman(Draft d, LedgerEvent? howUnknown)
    {
        var gap = d.State == DraftState.Failed
            ? Draft(Gaps.Stale, Gaps.AwaitingHuman, d, d.StateSince, $"execution failed after {d.ExecAttempts} attempt(s): {d.ExecError}", [ApproverAction.Retry, ApproverAction.Discard])
            : Draft(Gaps.Stale, Gaps.AwaitingHuman, d, d.StateSince, UnknownDetail(d, howUnknown), [ApproverAction.Retry, ApproverAction.MarkDone, ApproverAction.Discard]);
        return gap with { Key = gap.Key + ":" + d.StateSince.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) };
    }

    /// <summary>
    /// The ledger events that move a draft to unknown: the latest of them is the one that made it so (each entry into
    /// unknown writes one, and any later move out of it comes after).
    /// </summary>
    private static readonly string[] UnknownCauses =
        [AttemptEvents.ExecutionUnknown, AttemptEvents.ExecutionInterrupted, AttemptEvents.LeaseExpired, AttemptEvents.RestoreUnsettled];

    /// <summary>
    /// Said from the event that made the draft unknown, not from its error's wording: a restore's restore_unsettled (every
    /// build that settles a restored store has written it), of an approval or of a failed draft an approver may have retried
    /// (its restored_state; older builds settled approvals only); a pull lease that expired (no run
    /// error to keep: the agent said nothing); a pull executor's fail that said it may have taken effect (its actor is the
    /// pull route's), in the executor's own words; a push run whose route said it may have taken effect (killed, timed out, no response, a reset
    /// after the request went out, a redirect), with the run's own error as its event recorded it, and the executor's
    /// reason when that is why it is unknown rather than retried (the attempt was started on another route); the
    /// executor's own reason, when it made the draft unknown without a run's error (its route does not dedupe now, or the
    /// outcome of a run could not be recorded); a run a crash or a stop cut off, with the recovery's reason. Whether a
    /// restored draft's kind has a route is today's configuration, not the event's: the route an operator adds after the
    /// restore is the one a Retry runs on. Anything else (an older build's event, or none) is said from the draft's error.
    /// </summary>
    private string UnknownDetail(Draft d, LedgerEvent? cause)
    {
        var error = AttemptEvents.TextOf(cause?.Details, "error");
        var reason = AttemptEvents.TextOf(cause?.Details, "reason");
        var recorded = WithoutUnknownNote(d.ExecError);
        const string check = "check the sink, then Mark done or Retry";
        return cause switch
        {
            { Type: AttemptEvents.RestoreUnsettled } when routes.RouteType(d.Kind) is null =>
                $"outcome unknown ({Restored(cause, whereCopied: true)}); its kind has no route here: add one, then Retry, or Mark done",
            { Type: AttemptEvents.RestoreUnsettled } when AttemptEvents.RouteOf(cause.Details) == AttemptEvents.NoRoute =>
                $"outcome unknown ({Restored(cause, whereCopied: true)}); its kind has a route here now: {check}",
            { Type: AttemptEvents.RestoreUnsettled } =>
                $"outcome unknown ({Restored(cause, whereCopied: false)}) on a route that does not dedupe; {check}",
            { Type: AttemptEvents.LeaseExpired } when AttemptEvents.RouteOf(cause.Details) == "pull" =>
                "outcome unknown (its pull lease expired without complete or fail: its agent may have posted before it stopped) on a route that does not dedupe; " +
                "check the target, then Mark done or Retry",
            { Type: AttemptEvents.ExecutionUnknown } when cause.Actor.StartsWith(AttemptEvents.PullActorPrefix, StringComparison.Ordinal) =>
                $"outcome unknown (its pull executor could not tell whether it took effect: {(error is null ? recorded ?? "no reason given" : Joined(error, reason))}) " +
                "on a route that does not dedupe; check the target, then Mark done or Retry",
            // A push run's own outcome: its error, and the executor's reason when the route dedupes but the run began elsewhere.
            { Type: AttemptEvents.ExecutionUnknown } when error is not null => reason is null
                ? $"outcome unknown (its {RunOf(cause)} may have taken effect: {error}) on a route that does not dedupe; {check}"
                : $"outcome unknown (its {RunOf(cause)} may have taken effect: {error}; {reason}); {check}",
            { Type: AttemptEvents.ExecutionUnknown } when reason is not null => $"outcome unknown ({reason}); {check}",
            { Type: AttemptEvents.ExecutionInterrupted } when (reason ?? recorded) is { } why => $"outcome unknown (its {RunOf(cause)} was cut off: {why}); {check}",
            _ when recorded is not null => $"outcome unknown (cut off mid-run: {recorded}); {check}",
            _ => $"outcome unknown (cut off mid-run: a crash, a timeout or a redirect) on a route that does not dedupe; {check}",
        };
    }

    private static string Joined(string error, string? reason) => reason is null ? error : error + "; " + reason;

    /// <summary>
    /// What the attempt was, by the route its event names (a recovery's), else its actor's (<c>executor:webhook</c>): a
    /// command run, a webhook request, or a run of a route the event does not name.
    /// </summary>
    private static string RunOf(LedgerEvent cause) =>
        (AttemptEvents.RouteOf(cause.Details) ?? (cause.Actor.StartsWith("executor:", StringComparison.Ordinal) ? cause.Actor["executor:".Length..] : null)) switch
        {
            "command" => "command run",
            "webhook" => "webhook request",
            _ => "run",
        };

    /// <summary>What a restore_unsettled event says the copy held: an approval, or a failed draft that a Retry may have run since.</summary>
    private static string Restored(LedgerEvent cause, bool whereCopied) =>
        (AttemptEvents.TextOf(cause.Details, RestoredApprovals.RestoredStateField) == DraftState.Failed.ToWire()
            ? "failed in a store restored from a backup: an approver may have retried it, and it may have run again after the backup"
            : "approved in a store restored from a backup: it may have run after the backup")
        + (whereCopied ? ", where the copy was made" : "");

    private static string? WithoutUnknownNote(string? error) =>
        error is not null && error.EndsWith(ExecutionLedger.UnknownNote, StringComparison.Ordinal) ? error[..^ExecutionLedger.UnknownNote.Length] : error;

    /// <summary>The stale gap an approved or executing draft on a command or webhook route is, if it waited too long.</summary>
    private Gap? NotExecuted(Draft d, DateTimeOffset now, SqliteConnection connection)
    {
        if (routes.RouteType(d.Kind) is not ("command" or "webhook") || d.DecidedAt is not { } decided || decided > now - StuckAfter(d.Kind))
        {
            return null;
        }
        // An approver's Retry (failed/unknown -> approved) starts the wait afresh. Looked up only for drafts already
        // past StuckAfter since their decision, among that draft's own events (state_since cannot tell: every
        // failed attempt waiting for its next one re-enters approved too).
        var retried = DraftStore.LastEventAt(connection, d.Id, ApproverActions.RetryRequested) is { } r && r > decided ? r : (DateTimeOffset?)null;
        if (retried > now - StuckAfter(d.Kind))
        {
            return null;
        }
        var waiting = retried is { } at ? $"retried {Age(now - at)} ago (approved {Age(now - decided)} ago)" : $"approved {Age(now - decided)} ago";
        return Draft(Gaps.Stale, Gaps.NotExecuted, d, retried ?? decided,
            $"{waiting}, not executed ({d.ExecAttempts} attempt(s){(d.ExecError is null ? "" : ", last: " + d.ExecError)})",
            // A run under way cannot be discarded (ApproverActions.DiscardAsync): its outcome decides.
            d.State == DraftState.Executing ? [] : [ApproverAction.Discard]);
    }

    /// <summary>
    /// Stray taps (<c>orphan_callback</c>) in the window that no <c>gap_dismissed</c> event closed, oldest first. The
    /// dismissed ones are left out by the query itself, so however many were dismissed none of them takes the place of a
    /// live one under the limit. Both sides are searches of events_reported_by_type (whose term the query repeats); the
    /// dismissed ids are read once into a temporary index. Parameters <c>$since</c>, <c>$limit</c>.
    /// </summary>
    internal static readonly string OrphanCallbacksSql =
        "SELECT id, draft_id, at, actor, details FROM events" + OrphanCallbacksWhere + " ORDER BY id LIMIT $limit";

    /// <summary>How many <see cref="OrphanCallbacksSql"/> would return without its limit (parameter <c>$since</c>).</summary>
    internal static readonly string OrphanCallbacksCountSql = "SELECT COUNT(*) FROM events" + OrphanCallbacksWhere;

    private const string OrphanCallbacksWhere =
        " WHERE type = 'orphan_callback'" + DraftStore.ReportedTypesTerm + " AND at >= $since AND id NOT IN (" + GapDismissals.DismissedIdsSql + ")";

    /// <summary>
    /// <c>lease_expired</c> events in the window whose draft is still approved or executing, oldest first, from
    /// <c>$after</c> (an event id) on. A draft executed (or cancelled, failed, …) since no longer has this gap, and the
    /// query leaves it out itself, so old expiries cannot fill the limit ahead of a live one. The route (pull) is
    /// checked by the reader, which reads on past <c>$after</c> while a page was all other routes. The id term is
    /// written <c>+e.id</c> so it never becomes a walk of the ledger by rowid. An expiry that made its draft unknown (a route
    /// that does not dedupe) is not this gap: /stale reports the unknown draft, and once an approver's Retry sends it back,
    /// the draft did not go back to the queue by itself.
    /// </summary>
    internal static readonly string LeaseExpiriesSql =
        "SELECT e.id, e.at, d.id, d.seq, d.kind, d.sha256, d.state FROM events e JOIN drafts d ON d.id = e.draft_id" +
        " WHERE e.type = 'lease_expired'" + DraftStore.ReportedTypesTerm.Replace(" type ", " e.type ", StringComparison.Ordinal) +
        " AND e.at >= $since AND +e.id > $after AND d.state IN ('approved', 'executing')" +
        " AND (CASE WHEN json_valid(e.details) THEN json_extract(e.details, '$.action') END) IS NOT 'unknown' ORDER BY e.id LIMIT $limit";

    private void OrphanCallbacks(SqliteConnection connection, DateTimeOffset since, GapListing gaps)
    {
        var events = new List<LedgerEvent>();
        using (var cmd = connection.CreateCommand())
        {
            cmd.CommandText = OrphanCallbacksSql;
            cmd.Parameters.AddWithValue("$since", DraftColumns.ToUnixMs(since));
            cmd.Parameters.AddWithValue("$limit", Limit + 1);
            using var reader = cmd.ExecuteReader();
            while (reader.Read())
            {
                events.Add(new LedgerEvent(reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetString(1),
                    DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)), Gaps.OrphanCallback, reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4)));
            }
        }
        foreach (var e in events.Take(Limit))
        {
            gaps.Add(new Gap(Gaps.Orphans, Gaps.OrphanCallback, e.DraftId, null, null, null, e.At,
                $"a button was pressed for a draft not in the store or bound to another text ({e.Actor}): {e.Details}")
            { Key = GapDismissals.Key(e.Id), EventId = e.Id, Actions = [ApproverAction.Dismiss] });
        }
        if (events.Count > Limit)
        {
            using var cmd = connection.CreateCommand();
            cmd.CommandText = OrphanCallbacksCountSql;
            cmd.Parameters.AddWithValue("$since", DraftColumns.ToUnixMs(since));
            var total = Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
            gaps.AddNotListed(Gaps.OrphanCallback, total - Limit, events[Limit].At);
        }
    }

    /// <summary>
    /// One gap per draft, however often its lease expired in the window: keyed by the draft (as every gap that names one
    /// is), since the first of those expiries, with the count and the last in its detail. Keyed by the event, each expiry
    /// was a gap and an escalation of its own, so /orphans listed a draft claimed and abandoned three times three times.
    /// </summary>
    private void LeaseExpiries(SqliteConnection connection, DateTimeOffset since, GapListing gaps)
    {
        var drafts = new List<LeaseExpiry>();
        var byId = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var after = 0L; ;)
        {
            var page = new List<(long Event, DateTimeOffset At, string Id, long Seq, string Kind, string Sha256, string State)>();
            using (var cmd = connection.CreateCommand())
            {
                cmd.CommandText = LeaseExpiriesSql;
                cmd.Parameters.AddWithValue("$since", DraftColumns.ToUnixMs(since));
                cmd.Parameters.AddWithValue("$after", after);
                cmd.Parameters.AddWithValue("$limit", Limit);
                using var reader = cmd.ExecuteReader();
                while (reader.Read())
                {
                    page.Add((reader.GetInt64(0), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1)), reader.GetString(2),
                        reader.GetInt64(3), reader.GetString(4), reader.GetString(5), reader.GetString(6)));
                }
            }
            foreach (var row in page)
            {
                // A push route's run cut off by a crash is execution_interrupted, never this (older builds wrote
                // lease_expired for it). Failed or unknown after the lease is /stale's awaiting_human, that draft's one
                // escalation: the query returns only drafts still approved or executing.
                if (routes.RouteType(row.Kind) != "pull") continue;
                if (byId.TryGetValue(row.Id, out var i))
                {
                    drafts[i] = drafts[i] with { Last = row.At, Count = drafts[i].Count + 1 };
                    continue;
                }
                byId[row.Id] = drafts.Count;
                drafts.Add(new LeaseExpiry(row.Id, row.Seq, row.Sha256, row.State, row.At, row.At, 1));
            }
            if (page.Count < Limit) break;
            after = page[^1].Event;
        }
        foreach (var d in drafts)
        {
            var detail = "a pull executor's lease expired without complete or fail; the draft went back to the queue" + (d.Count == 1
                ? ""
                : $" (its lease expired {d.Count.ToString(CultureInfo.InvariantCulture)} times in the window, the last at {d.Last:O})");
            gaps.Add(new Gap(Gaps.Orphans, Gaps.LeaseExpired, d.Id, d.Seq, d.Sha256, d.State, d.First, detail) { Key = LeaseExpiredKey(d.Id) });
        }
    }

    /// <summary>The escalation key of a draft's lease_expired gap (schema 10 re-keyed the open ones of earlier builds, which were per expiry).</summary>
    internal static string LeaseExpiredKey(string draftId) => $"{Gaps.Orphans}:{Gaps.LeaseExpired}:{draftId}";

    private sealed record LeaseExpiry(string Id, long Seq, string Sha256, string State, DateTimeOffset First, DateTimeOffset Last, int Count);

    /// <summary>A blocked draft, named from the reason the executor recorded (exec_error), not guessed from the text.</summary>
    private static Gap BlockedGap(Draft d)
    {
        var code = HandoffCheck.CodeOf(d.ExecError)
            // Blocked before the reason was recorded on the draft: what the store still shows.
            ?? (d.Decision != HandoffCheck.Approved || d.DecisionSha256 is null ? "decision_missing" : d.Text is null ? "text_missing" : "text_changed");
        var detail = d.ExecError is { } reason
            ? $"{Describe(code)} (blocked: never executed): {reason}"
            : $"{Describe(code)} (blocked: never executed); approved sha256 {d.DecisionSha256 ?? "none"}, stored {d.Sha256}";
        return Draft(Gaps.Orphans, GapName(code), d, d.DecidedAt ?? d.StateSince, detail, [ApproverAction.Discard]);
    }

    /// <summary>An approval that will not pass (or did not keep passing) the handoff check; the text is at hand here.</summary>
    private static Gap HandoffGap(Draft d, string code, string what, IReadOnlyList<ApproverAction> actions)
    {
        var detail = $"{Describe(code)} ({what}); approved sha256 {d.DecisionSha256 ?? "none"}, stored {d.Sha256}" +
            (code == "text_missing" ? "" : $", text now {(d.Text is null ? "missing" : DraftHash.Of(d.Text))}");
        return Draft(Gaps.Orphans, GapName(code), d, d.DecidedAt ?? d.StateSince, detail, actions);
    }

    /// <summary>hash_mismatch is a changed text too: the one stored is not the one approved.</summary>
    private static string GapName(string code) => code switch
    {
        "text_missing" => Gaps.TextMissing,
        "decision_missing" => Gaps.DecisionMissing,
        _ => Gaps.TextChanged,
    };

    private static string Describe(string code) => code switch
    {
        "text_missing" => "approval whose text is missing",
        "decision_missing" => "approved without a decision bound to a text hash",
        "hash_mismatch" => "approval given for a different text than the one stored",
        _ => "approval whose text changed",
    };

    private static Gap Draft(string report, string name, Draft d, DateTimeOffset since, string detail, IReadOnlyList<ApproverAction> actions) =>
        new(report, name, d.Id, d.Seq, d.Sha256, d.State.ToWire(), since, detail)
        {
            Key = $"{report}:{name}:{d.Id}",
            Actions = actions,
            StateSince = d.StateSince,
        };

    private TimeSpan StaleAfter(string kind) =>
        kinds.CurrentValue.Kinds.TryGetValue(kind, out var k) ? k.StaleAfter : new KindOptions().StaleAfter;

    private TimeSpan StuckAfter(string kind) =>
        kinds.CurrentValue.Kinds.TryGetValue(kind, out var k) ? k.StuckAfter : new KindOptions().StuckAfter;

    internal static string Age(TimeSpan age) => age.TotalDays >= 1
        ? $"{(int)age.TotalDays}d {age.Hours}h"
        : age.TotalHours >= 1 ? $"{(int)age.TotalHours}h {age.Minutes}m" : $"{Math.Max(0, (int)age.TotalMinutes).ToString(CultureInfo.InvariantCulture)}m";
}
