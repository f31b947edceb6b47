using System.Globalization;
using System.Text.Json.Nodes;
using ApprovalBot.Drafts;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Reconciliation;

/// <summary>
/// Owner of <c>expired</c>: moves each draft nobody decided on (pending or carded) to <c>expired</c> once its kind's
/// <see cref="KindOptions.ExpireAfter"/> has passed since its submission, as <c>/stale</c> times <c>StaleAfter</c>. It runs
/// at the start of every reconcile cycle: that cycle already runs at start, on its interval and after every executor
/// cycle, and measures the same per-kind clocks, so no timer of its own is needed, a draft that came due while the
/// service was down expires at the first cycle after the start that the <see cref="Reconciler"/> runs (it holds its
/// cycles until the taps made meanwhile are fetched, <see cref="IMissedDecisions"/>; while the service runs and the poller
/// cannot fetch, a draft whose time came after the last poll that went through waits, up to <see cref="HeldAtMost"/>), and the same cycle's reports no
/// longer count it as awaiting a decision. Each move is a compare-and-set from pending or carded through the single
/// writer, so a decision committed first stays decided, and an expiry committed first turns the tap into "nothing to
/// decide". Not escalated: an expiry is the outcome the kind's configuration asked for, not a gap anybody has to close;
/// the card shows it and the agent's <c>wait</c> returns with it.
/// </summary>
internal sealed partial class DraftExpiry(
    DraftStore store, IOptionsMonitor<KindsOptions> kinds, IMissedDecisions missed, TimeProvider time, ILogger<DraftExpiry> logger)
{
    /// <summary>
    /// How long past its deadline a draft's expiry waits for taps the poller cannot fetch while the service runs (the same
    /// bound as the wait for the taps made while it was down: it must not hold every expiry for good).
    /// </summary>
    internal static readonly TimeSpan HeldAtMost = TimeSpan.FromMinutes(10);

    /// <summary>The ledger event of an expiry.</summary>
    public const string EventType = "expired";

    /// <summary>Who expires drafts, in the ledger.</summary>
    public const string Actor = "expiry";

    /// <summary>Drafts expired in one commit: a store that was down for days may hold many, and one fsync each would be slow.</summary>
    internal const int Batch = 200;

    /// <summary>
    /// Due drafts of one kind after <c>$after</c> (a seq), in submission order: pending and carded drafts are few, and
    /// drafts_by_state finds them. <c>+kind</c> keeps SQLite off drafts_by_kind, which it picks in a store without
    /// statistics and which would read every draft of the kind, executed ones included, each cycle. <c>card_chat_id</c> tells
    /// whether a card went out: a card sent unconfirmed (card_unconfirmed) is most likely in the chat with no message id on record.
    /// </summary>
    internal const string DueSql =
        "SELECT id, seq, state, created_at, card_chat_id FROM drafts WHERE state IN ('pending', 'carded') AND +kind = $kind AND created_at <= $cutoff AND seq > $after " +
        "ORDER BY seq LIMIT $limit";

    /// <summary>Expires every draft that is due now; returns how many it expired.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        // A deadline after the last moment up to which every tap is in may have an in-time tap still waiting at Telegram.
        var seen = missed.TapsSeenBefore(now);
        var until = seen >= now ? now : seen > now - HeldAtMost ? seen : now - HeldAtMost;
        var expired = 0;
        foreach (var (kind, options) in kinds.CurrentValue.Kinds)
        {
            if (options.ExpireAfter is not { } after)
            {
                continue;
            }
            var cutoff = DraftColumns.ToUnixMs(until - after);
            long seq = 0;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var due = Due(kind, cutoff, seq);
                if (due.Count == 0)
                {
                    break;
                }
                var applied = await store.WriteAsync(ctx => due.Where(d => Expire(ctx, d, kind, after)).ToList()).ConfigureAwait(false);
                foreach (var d in applied)
                {
                    Log(d, kind, after);
                }
                expired += applied.Count;
                if (due.Count < Batch)
                {
                    break;
                }
                seq = due[^1].Seq;
            }
        }
        return expired;
    }

    private List<DueDraft> Due(string kind, long cutoff, long after) => store.Read(connection =>
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = DueSql;
        cmd.Parameters.AddWithValue("$kind", kind);
        cmd.Parameters.AddWithValue("$cutoff", cutoff);
        cmd.Parameters.AddWithValue("$after", after);
        cmd.Parameters.AddWithValue("$limit", Batch);
        using var reader = cmd.ExecuteReader();
        var due = new List<DueDraft>();
        while (reader.Read())
        {
            due.Add(new DueDraft(
                reader.GetString(0), reader.GetInt64(1), DraftStateNames.Parse(reader.GetString(2)),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)), !reader.IsDBNull(4)));
        }
        return due;
    });

    /// <summary>The compare-and-set move, with its ledger event; false when the draft left pending and carded meanwhile (decided, cancelled).</summary>
    private static bool Expire(WriteContext ctx, DueDraft d, string kind, TimeSpan after) =>
        DraftStore.Apply(ctx, new Transition(d.Id, [DraftState.Pending, DraftState.Carded], DraftState.Expired, EventType, Actor)
        {
            Details = new JsonObject
            {
                ["reason"] = $"no decision within {Setting(kind)} ({after.ToString("c", CultureInfo.InvariantCulture)}) of its submission",
                ["expire_after"] = after.ToString("c", CultureInfo.InvariantCulture),
                ["submitted_at"] = d.CreatedAt.ToString("O", CultureInfo.InvariantCulture),
                ["carded"] = d.HasCard,
            },
        }).Applied;

    private static string Setting(string kind) => $"{KindsOptions.Section}:{kind}:ExpireAfter";

    private void Log(DueDraft d, string kind, TimeSpan after)
    {
        if (d.HasCard)
        {
            LogExpired(d.Id, d.Seq, kind, d.State.ToWire(), Setting(kind), after, d.CreatedAt);
        }
        else
        {
            LogExpiredWithoutCard(d.Id, d.Seq, kind, d.State.ToWire(), Setting(kind), after, d.CreatedAt);
        }
    }

    /// <param name="HasCard">A card of it went out (on record, or sent unconfirmed): the approver could have seen it.</param>
    private sealed record DueDraft(string Id, long Seq, DraftState State, DateTimeOffset CreatedAt, bool HasCard);

    [LoggerMessage(Level = LogLevel.Information, Message = "Expired {DraftId} seq {Seq} kind {Kind} (was {State}): no decision within {Setting} {ExpireAfter} of its submission at {SubmittedAt:O}")]
    private partial void LogExpired(string draftId, long seq, string kind, string state, string setting, TimeSpan expireAfter, DateTimeOffset submittedAt);

    // The approver never saw this draft (its card never reached the chat): worth more attention than one that was shown.
    [LoggerMessage(Level = LogLevel.Warning, Message = "Expired {DraftId} seq {Seq} kind {Kind} (was {State}) before any card of it reached the chat: no decision within {Setting} {ExpireAfter} of its submission at {SubmittedAt:O}")]
    private partial void LogExpiredWithoutCard(string draftId, long seq, string kind, string state, string setting, TimeSpan expireAfter, DateTimeOffset submittedAt);
}
