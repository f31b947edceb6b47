using ApprovalBot.Drafts;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Reconciliation;

/// <summary>
/// One reconcile cycle, once the taps made while the service was down are in (<see cref="IMissedDecisions"/>; until then a
/// cycle does nothing): expire the drafts past their kind's ExpireAfter (<see cref="DraftExpiry"/>) first, so that this
/// cycle's reports no longer count them as awaiting a decision; then find every gap, escalate each new one once and each
/// open one again after <see cref="ReconciliationOptions.RemindEvery"/>, grouped into few messages, and close gaps that went away.
/// A gap is marked sent only after the chat accepted the message carrying it, so a failed send is retried next cycle; an
/// escalation the chat gets in several messages is marked message by message, so a retry sends only the gaps not delivered.
/// A class the report could not list in full (it says how many more exist) closes only the gaps known to be gone.
/// A message the chat took whose gaps the store could not record is not sent again by this process: its gaps are kept in
/// memory as delivered and only the record is tried again, each cycle, until the store takes it (see <see cref="_unrecorded"/>).
/// </summary>
internal sealed partial class Reconciler(
    DraftExpiry expiry,
    IMissedDecisions missed,
    GapFinder finder,
    DraftStore store,
    IServiceProvider services,
    IOptions<ReconciliationOptions> options,
    TimeProvider time,
    ILogger<Reconciler> logger)
{
    /// <summary>
    /// How often failing escalations are brought up again while the chat stays out of reach. A chat that refuses the bot,
    /// or a refused token, lasts until someone acts, and every cycle tries again: an Error each cycle (and a Warning for
    /// each gap it retries) would bury the log, and the first Error already says what is at stake.
    /// </summary>
    internal static readonly TimeSpan FailingReminder = TimeSpan.FromHours(1);

    private readonly SemaphoreSlim _gate = new(1, 1);

    // Since when escalations fail, and when that was last brought up; null while they reach the chat. Under the gate.
    private DateTimeOffset? _failingSince;
    private DateTimeOffset _failingRemindedAt;

    // Reminders whose gap line was logged, by gap and the last_sent they remind of; only those due now are kept. Under the gate.
    private readonly HashSet<(string Key, long LastSent)> _remindersLogged = [];

    // Gaps the chat got whose delivery the store could not record (a write refused, the disk full or read-only), by key:
    // their last_sent in the store is older (NULL for a first escalation), so each cycle would post them again. They count
    // as delivered when they were, and only the record is tried again, at every cycle. Under the gate. Lost with the
    // process: after a restart such a gap is sent once more (a first escalation again, or a reminder come due).
    private readonly Dictionary<string, UnrecordedSend> _unrecorded = new(StringComparer.Ordinal);
    private volatile bool _held;

    /// <summary>Gaps found and messages sent by the last cycle, and the drafts it expired.</summary>
    public sealed record CycleResult(int Open, int Escalated, int Reminded, int Resolved, int Messages, int Expired);

    /// <summary>True once a cycle did nothing while the taps made while the service was down were not in.</summary>
    public bool HeldACycle => _held;

    public async Task<CycleResult> RunOnceAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await RunAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<CycleResult> RunAsync(CancellationToken cancellationToken)
    {
        if (!missed.TakenIn)
        {
            // A tap made while the service was down may still be at Telegram: no expiry, and no escalation calling for a
            // decision that may already be taken, before it is in (a cycle runs as soon as it is).
            if (!_held)
            {
                _held = true;
                LogHeldForMissedDecisions();
            }
            return new CycleResult(0, 0, 0, 0, 0, 0);
        }
        var expired = await expiry.RunOnceAsync(cancellationToken).ConfigureAwait(false);
        var gaps = finder.All().Where(g => Gaps.IsEscalated(g.Name)).ToList();
        var now = time.GetUtcNow();
        await RecordUnrecordedAsync().ConfigureAwait(false);
        var open = OpenEscalations();
        foreach (var (key, send) in _unrecorded.ToList())
        {
            if (open.TryGetValue(key, out var e))
            {
                open[key] = e with { LastSent = send.SentAt.ToUnixTimeMilliseconds() };
            }
            else
            {
                // Closed meanwhile (Dismiss): the delivery of a closed gap no longer matters.
                _unrecorded.Remove(key);
            }
        }
        var current = gaps.Select(g => g.Key).ToHashSet(StringComparer.Ordinal);
        // An open gap of a class listed only in part may be among those not listed: it stays open (its class's "more"
        // gap stands for it meanwhile) rather than being closed now and escalated as new once it is listed again.
        var partial = gaps.Where(g => g.NotListed is not null).Select(g => (g.Report, g.Name)).ToHashSet();
        var resolved = open.Where(e => !current.Contains(e.Key) && !partial.Contains((e.Value.Report, e.Value.Gap))).Select(e => e.Key).ToList();
        var remindBefore = (now - options.Value.RemindEvery).ToUnixTimeMilliseconds();
        var due = gaps.Where(g => !open.TryGetValue(g.Key, out var e) || e.LastSent is null || e.LastSent <= remindBefore).ToList();
        // A gap is a reminder only when the approver has seen it: a row whose first send failed (last_sent NULL) is
        // still a first escalation.
        bool Delivered(Gap g) => open.TryGetValue(g.Key, out var e) && e.LastSent is not null;

        await store.WriteAsync(ctx =>
        {
            foreach (var key in resolved)
            {
                ctx.Execute("UPDATE escalations SET resolved_at = $now WHERE gap_key = $key", ("$now", ctx.NowMs), ("$key", key));
            }
            foreach (var gap in due.Where(g => !open.ContainsKey(g.Key)))
            {
                ctx.Execute(
                    "INSERT INTO escalations(gap_key, report, gap, draft_id, first_seen) VALUES ($key, $report, $gap, $draft, $now) " +
                    "ON CONFLICT(gap_key) DO UPDATE SET resolved_at = NULL, last_sent = NULL",
                    ("$key", gap.Key), ("$report", gap.Report), ("$gap", gap.Name), ("$draft", gap.DraftId), ("$now", ctx.NowMs));
            }
            return true;
        }).ConfigureAwait(false);
        foreach (var key in resolved)
        {
            _unrecorded.Remove(key);
        }

        foreach (var gap in due)
        {
            // A gap whose escalation or reminder failed before is retried every cycle: its line was logged when it was
            // found, and when its reminder was first tried (a failed reminder keeps its last_sent, so it is due again).
            if (open.TryGetValue(gap.Key, out var e) && (e.LastSent is not { } sent || !_remindersLogged.Add((gap.Key, sent))))
            {
                LogGapRetried(gap.Report, gap.Name, gap.DraftId);
            }
            else
            {
                LogGap(gap.Report, gap.Name, gap.DraftId, gap.State, gap.Since, gap.Detail);
            }
        }
        var dueKeys = due.Select(g => g.Key).ToHashSet(StringComparer.Ordinal);
        _remindersLogged.RemoveWhere(r => !dueKeys.Contains(r.Key));

        var channel = services.GetService<IEscalationChannel>();
        var messages = 0;
        if (channel is not null && due.Count > 0)
        {
            foreach (var chunk in due.Chunk(options.Value.MaxGapsPerMessage))
            {
                var reminder = chunk.All(Delivered);
                EscalatedGap[] shown = [.. chunk.Select(g => new EscalatedGap(g.DraftId, g.DraftSeq, g.DraftSha256, $"{g.Report}/{g.Name}", g.Since, g.Detail, g.Actions, Delivered(g)) { EventId = g.EventId, NotListed = g.NotListed, StateSince = g.StateSince })];
                var escalation = new Escalation(Title(chunk, reminder), shown);
                Exception? notRecorded = null;
                var taken = 0;
                async Task MarkSentAsync(IReadOnlyList<EscalatedGap> part)
                {
                    // By reference: two gaps may read the same, each has its own key.
                    var delivered = part.Select(p => chunk[Array.FindIndex(shown, s => ReferenceEquals(s, p))]).ToList();
                    try
                    {
                        await store.WriteAsync(ctx =>
                        {
                            foreach (var gap in delivered)
                            {
                                ctx.Execute("UPDATE escalations SET last_sent = $now, sent_count = sent_count + 1 WHERE gap_key = $key", ("$now", ctx.NowMs), ("$key", gap.Key));
                            }
                            return true;
                        }).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is StoreUnavailableException or SqliteException)
                    {
                        // The chat has them: remembered as delivered rather than sent again, and the next parts still go.
                        Unrecorded(delivered, ex);
                    }
                    catch (Exception ex)
                    {
                        notRecorded = ex;
                        throw;
                    }
                    taken += delivered.Count;
                }
                try
                {
                    await channel.SendAsync(escalation, MarkSentAsync, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException && !ReferenceEquals(ex, notRecorded))
                {
                    // Recording a delivered message failing otherwise than by the store's refusal is the cycle's failure, not the
                    // chat's. The parts the chat took are recorded, or kept as delivered: only the gaps after them were not delivered.
                    EscalationFailed(ex, chunk.Length - taken, now);
                    continue;
                }
                if (_failingSince is { } since)
                {
                    LogEscalationsDeliveredAgain((now - since).TotalMinutes);
                    _failingSince = null;
                }
                messages++;
            }
        }
        var escalated = due.Count(g => !Delivered(g));
        return new CycleResult(gaps.Count, escalated, due.Count - escalated, resolved.Count, messages, expired);
    }

    /// <summary>Keeps <paramref name="delivered"/>, which the chat took but the store did not record, as delivered now.</summary>
    private void Unrecorded(IReadOnlyList<Gap> delivered, Exception ex)
    {
        var now = time.GetUtcNow();
        foreach (var gap in delivered)
        {
            // A reminder the chat took while its gap's first delivery was still unrecorded: both are recorded at once.
            var earlier = _unrecorded.GetValueOrDefault(gap.Key);
            _unrecorded[gap.Key] = new UnrecordedSend(gap.Report, gap.Name, gap.DraftId, now, (earlier?.Sends ?? 0) + 1, (earlier?.Tries ?? 0) + 1, earlier?.Since ?? now);
            if (earlier is null)
            {
                LogEscalationNotRecorded(gap.Report, gap.Name, gap.DraftId, ex.Message);
            }
        }
    }

    /// <summary>
    /// Records the deliveries the store could not take when they were made, each with when it was made, so the gap's
    /// reminder comes RemindEvery after the approver saw it. A gap closed meanwhile has nothing left to record.
    /// </summary>
    private async Task RecordUnrecordedAsync()
    {
        foreach (var (key, send) in _unrecorded.ToList())
        {
            int updated;
            try
            {
                updated = await store.WriteAsync(ctx => ctx.Execute(
                    "UPDATE escalations SET last_sent = MAX(IFNULL(last_sent, 0), $sent), sent_count = sent_count + $sends WHERE gap_key = $key AND resolved_at IS NULL",
                    ("$sent", send.SentAt.ToUnixTimeMilliseconds()), ("$sends", send.Sends), ("$key", key))).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is StoreUnavailableException or SqliteException)
            {
                _unrecorded[key] = send with { Tries = send.Tries + 1 };
                LogEscalationStillNotRecorded(send.Report, send.Gap, send.DraftId, send.Tries + 1, ex.Message);
                continue;
            }
            _unrecorded.Remove(key);
            if (updated == 0)
            {
                continue;
            }
            LogEscalationRecordedLate(send.Report, send.Gap, send.DraftId, send.Tries + 1, (time.GetUtcNow() - send.Since).TotalMinutes);
        }
    }

    private void EscalationFailed(Exception ex, int count, DateTimeOffset now)
    {
        if (_failingSince is not { } since)
        {
            _failingSince = _failingRemindedAt = now;
            LogEscalationFailed(ex, count);
        }
        else if (now - _failingRemindedAt >= FailingReminder)
        {
            _failingRemindedAt = now;
            LogEscalationsStillFailing((now - since).TotalMinutes, count, ex.Message);
        }
        else
        {
            LogEscalationFailedAgain(count, ex.Message);
        }
    }

    private static string Title(IReadOnlyCollection<Gap> gaps, bool reminder)
    {
        var orphans = gaps.Count(g => g.Report == Gaps.Orphans);
        var stale = gaps.Count - orphans;
        var parts = new List<string>();
        if (orphans > 0) parts.Add($"{orphans} orphan{(orphans == 1 ? "" : "s")}");
        if (stale > 0) parts.Add($"{stale} stale");
        return (reminder ? "Reminder: " : "") + string.Join(" and ", parts) + (gaps.Count == 1 ? " needs attention" : " need attention");
    }

    private Dictionary<string, OpenEscalation> OpenEscalations() => store.Read(connection =>
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT gap_key, report, gap, last_sent FROM escalations WHERE resolved_at IS NULL";
        using var reader = cmd.ExecuteReader();
        var open = new Dictionary<string, OpenEscalation>(StringComparer.Ordinal);
        while (reader.Read())
        {
            open[reader.GetString(0)] = new(reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetInt64(3));
        }
        return open;
    });

    /// <summary>An escalation not resolved yet: its gap's report and class, and when it was last delivered (null: never).</summary>
    private sealed record OpenEscalation(string Report, string Gap, long? LastSent);

    /// <summary>
    /// Deliveries of a gap the store has not recorded: the last at <paramref name="SentAt"/>, <paramref name="Sends"/> of them,
    /// its record tried <paramref name="Tries"/> times; <paramref name="Since"/>: when the store first refused it.
    /// </summary>
    private sealed record UnrecordedSend(string Report, string Gap, string? DraftId, DateTimeOffset SentAt, int Sends, int Tries, DateTimeOffset Since);

    [LoggerMessage(Level = LogLevel.Information, Message = "Expiry and escalations wait until the taps made while the service was down are fetched from the chat")]
    private partial void LogHeldForMissedDecisions();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Gap {Report}/{Gap} on {DraftId} ({State}) since {Since}: {Detail}")]
    private partial void LogGap(string report, string gap, string? draftId, string? state, DateTimeOffset since, string detail);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Gap {Report}/{Gap} on {DraftId}: its escalation is sent again")]
    private partial void LogGapRetried(string report, string gap, string? draftId);

    [LoggerMessage(Level = LogLevel.Error, EventName = "EscalationFailed",
        Message = "Escalation of {Count} gap(s) could not be delivered; retried every cycle (brought up again hourly while it fails)")]
    private partial void LogEscalationFailed(Exception ex, int count);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Escalation of {Count} gap(s) still not delivered: {Reason}")]
    private partial void LogEscalationFailedAgain(int count, string reason);

    [LoggerMessage(Level = LogLevel.Warning, EventName = "EscalationsStillFailing",
        Message = "Escalations have not reached the chat for {Minutes:0} min ({Count} gap(s) in the last try: {Reason}); retried every cycle. " +
        "approvalctl orphans and approvalctl stale list the gaps meanwhile")]
    private partial void LogEscalationsStillFailing(double minutes, int count, string reason);

    [LoggerMessage(Level = LogLevel.Warning, EventName = "EscalationNotRecorded",
        Message = "Escalation of gap {Report}/{Gap} on {DraftId} reached the chat but the store could not record it ({Reason}); it is not sent again, " +
        "only the record is tried again every cycle. If the service stops first, the chat gets it once more after the restart")]
    private partial void LogEscalationNotRecorded(string report, string gap, string? draftId, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Escalation of gap {Report}/{Gap} on {DraftId} still not recorded ({Tries} tries): {Reason}")]
    private partial void LogEscalationStillNotRecorded(string report, string gap, string? draftId, int tries, string reason);

    [LoggerMessage(Level = LogLevel.Information, EventName = "EscalationRecordedLate",
        Message = "Escalation of gap {Report}/{Gap} on {DraftId} recorded after {Tries} tries ({Minutes:0.#} min); reminded every RemindEvery from its delivery")]
    private partial void LogEscalationRecordedLate(string report, string gap, string? draftId, int tries, double minutes);

    [LoggerMessage(Level = LogLevel.Information, Message = "Escalations reach the chat again after {Minutes:0.#} min")]
    private partial void LogEscalationsDeliveredAgain(double minutes);
}
