using System.Text.Json.Nodes;
using ApprovalBot.Drafts;
using ApprovalBot.Execution.Routes;

namespace ApprovalBot.Execution;

/// <summary>
/// After the store was restored from a backup (<c>ApprovalBot restore</c> leaves <see cref="MarkerKey"/> in the settings
/// table, its value the time of the restore in Unix milliseconds), no approval the copy holds may run blindly on a route
/// that does not dedupe: it may well have run after the backup was taken, and the copy cannot say. Each such draft
/// becomes <c>unknown</c>, for a human to check the sink and Mark done or Retry, as after a run cut off mid-way. Only the
/// copy's approvals: a draft approved since the restore (a tap made while no service ran, delivered when the poller
/// started; an approver's Retry) entered <c>approved</c> after that time and runs. Settled as the store opens
/// (<see cref="SettleRestoredApprovals"/>), before the pipe answers a claim or an executor cycle runs. An approval of a kind without a route now becomes unknown too: it may have had one where the copy was made.
/// A <c>failed</c> draft of the copy that had made an attempt is settled the same way: an approver may have retried it and
/// it may have run after the backup, and left failed, the next Retry would run it again. (One on a deduping route stays failed.)
/// Drafts on a deduping route, push or pull, stay approved (a second run has the same idempotency key), each with a
/// <see cref="AttemptEvents.RestoreKept"/> event saying that it may have run after the backup: the pipe's <c>cancel</c> reads it as an
/// attempt that may have taken effect and refuses to withdraw such a draft, whose next run is what records that effect.
/// The marker goes in the same write, so a crash midway leaves it for the next start.
/// </summary>
internal static class RestoredApprovals
{
    public const string MarkerKey = "store.restored";
    public const string Reason = "the store was restored from a backup, and whether this approval ran after the backup was taken is not known";

    /// <summary>In a <c>restore_unsettled</c> event's details: the state the copy held the draft in (approved, or failed).</summary>
    public const string RestoredStateField = "restored_state";

    /// <summary>
    /// Settles the approvals (and failed drafts that made an attempt) of a restored store, if the store says it was
    /// restored; returns the drafts made unknown, each with the state the copy held it in.
    /// <paramref name="started"/>: when this process started, the restore's time if the marker does not hold one.
    /// </summary>
    public static async Task<IReadOnlyList<(Draft Draft, DraftState Restored)>> SettleAsync(DraftStore store, ExecutorRoutesOptions routes, DateTimeOffset started)
    {
        if (store.GetSetting(MarkerKey) is not { } marker)
        {
            return [];
        }
        var restoredAt = long.TryParse(marker, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ms)
            ? ms
            : DraftColumns.ToUnixMs(started);
        return await store.WriteAsync(ctx =>
        {
            var approved = new List<Draft>();
            using (var cmd = ctx.Command(DraftColumns.Select + " WHERE (state = 'approved' OR (state = 'failed' AND exec_attempts > 0)) AND state_since <= $restored ORDER BY seq",
                ("$restored", restoredAt)))
            using (var reader = cmd.ExecuteReader())
            {
                while (reader.Read())
                {
                    approved.Add(DraftColumns.Read(reader));
                }
            }
            var unsettled = new List<(Draft, DraftState)>();
            foreach (var d in approved)
            {
                // A kind without a route here may well have had one where the copy came from (a restore onto a new
                // machine before its configuration is copied over): kept approved, it would run blindly on whatever route
                // the kind gets later, when the marker is long gone.
                var routed = routes.TryGet(d.Kind, out var route);
                var details = new JsonObject
                {
                    ["attempt"] = d.ExecAttempts, ["idempotency_key"] = IdempotencyKey.For(d.Id, d.Sha256),
                    ["route"] = routed ? ExecutionLedger.RouteName(route) : AttemptEvents.NoRoute, ["reason"] = Reason,
                };
                if (routed && route.Idempotent && d.State == DraftState.Failed)
                {
                    // A Retry runs it under the same key, which the sink dedupes by.
                    continue;
                }
                if (routed && route.Idempotent)
                {
                    details["action"] = "run again under the same key";
                    details[AttemptEvents.MayHaveTakenEffect] = true;
                    ctx.AppendEvent(d.Id, AttemptEvents.RestoreKept, "executor", details.ToJsonString());
                    continue;
                }
                details["action"] = "unknown";
                details[RestoredStateField] = d.State.ToWire();
                var applied = DraftStore.Apply(ctx, new Transition(d.Id, [d.State], DraftState.Unknown, AttemptEvents.RestoreUnsettled, "executor")
                {
                    Set = new Dictionary<string, object?>
                    {
                        ["exec_next_at"] = null, ["exec_error"] = Reason + ExecutionLedger.UnknownNote,
                    },
                    Details = details,
                });
                if (applied.Applied)
                {
                    unsettled.Add((applied.Draft!, d.State));
                }
            }
            ctx.Execute("DELETE FROM settings WHERE key = $key", ("$key", MarkerKey));
            return unsettled;
        }).ConfigureAwait(false);
    }
}
