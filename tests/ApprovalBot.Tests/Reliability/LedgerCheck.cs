using ApprovalBot.Client;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Reliability;

/// <summary>
/// The invariants of the crash loop, each checked against the store's ledger and what the outside saw
/// (agents' receipts, the sandbox's callback answers, the sinks' own ledgers). Every violation is collected
/// first and reported together, so one run shows every broken promise, not only the first.
/// </summary>
internal sealed class LedgerCheck(CrashLoopRig rig, Report orphans, Report stale)
{
    private static readonly HashSet<string> Final = new(StringComparer.Ordinal) { "executed", "rejected", "cancelled", "expired" };
    private readonly List<string> _violations = [];

    public int Drafts { get; private set; }
    public int Decisions { get; private set; }
    public int Acknowledged { get; private set; }
    public int AcknowledgedAgain { get; private set; }
    public int Executed { get; private set; }
    public int Unknown { get; private set; }
    public int Failed { get; private set; }
    public int Runs { get; private set; }
    public int AbsorbedRepeats { get; private set; }
    public int Reported { get; private set; }
    public int Lost { get; private set; }
    public int DoubleDecisions { get; private set; }
    public int DoubleEffects { get; private set; }
    public int UpdatesAppliedTwice { get; private set; }
    public string Integrity { get; private set; } = "?";

    public void Run()
    {
        var drafts = rig.Drafts();
        var byId = drafts.ToDictionary(d => d.Id, StringComparer.Ordinal);
        var bySeq = drafts.ToDictionary(d => d.Seq);
        Drafts = drafts.Count;
        Receipts(byId);
        Decided(drafts, bySeq);
        NothingStuckSilently(drafts);
        Effects(drafts);
        Integrity = rig.Scalar<string>("PRAGMA integrity_check");
        if (Integrity != "ok")
        {
            _violations.Add("PRAGMA integrity_check: " + Integrity);
        }
    }

    /// <summary>What <see cref="Run"/> found wrong; empty when every invariant holds.</summary>
    public IReadOnlyList<string> Violations => _violations;

    /// <summary>Every receipt an agent received is in the store, with the same SHA-256, and the text still hashes to it.</summary>
    private void Receipts(Dictionary<string, CrashLoopRig.StoredDraft> byId)
    {
        foreach (var (id, receipt) in rig.Traffic.Receipts)
        {
            if (!byId.TryGetValue(id, out var d))
            {
                Lost++;
                _violations.Add($"receipt for {id} (seq {receipt.Seq}) but no such draft in the store");
            }
            else if (d.Sha256 != receipt.Sha256 || d.Text is null || Sha.Hex(d.Text) != receipt.Sha256 || d.Seq != receipt.Seq)
            {
                Lost++;
                _violations.Add($"{id}: receipt sha256 {receipt.Sha256} seq {receipt.Seq}, stored {d.Sha256} seq {d.Seq}, text {(d.Text is null ? "missing" : Sha.Hex(d.Text))}");
            }
        }
    }

    /// <summary>
    /// One decided event per draft, matching the stored decision; every decision the approver saw acknowledged is
    /// that stored decision; no callback query (hence no update) changed anything twice.
    /// </summary>
    private void Decided(IReadOnlyList<CrashLoopRig.StoredDraft> drafts, Dictionary<long, CrashLoopRig.StoredDraft> bySeq)
    {
        var decided = rig.Events("decided");
        Decisions = decided.Count;
        foreach (var group in decided.GroupBy(e => e.DraftId))
        {
            if (group.Count() > 1)
            {
                DoubleDecisions++;
                _violations.Add($"{group.Key}: {group.Count()} decided events");
            }
        }
        var eventsByDraft = decided.Where(e => e.DraftId is not null).GroupBy(e => e.DraftId!).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        foreach (var d in drafts.Where(d => d.Decision is not null))
        {
            if (!eventsByDraft.TryGetValue(d.Id, out var e))
            {
                _violations.Add($"{d.Id}: decision {d.Decision} stored without a decided event");
            }
            else if (e.Get("decision") != d.Decision)
            {
                _violations.Add($"{d.Id}: decision {d.Decision} stored, ledger says {e.Get("decision")}");
            }
        }
        foreach (var d in drafts.Where(d => d.Decision is null && eventsByDraft.ContainsKey(d.Id)))
        {
            _violations.Add($"{d.Id}: a decided event but no stored decision (state {d.State})");
        }

        // No update applied twice: a callback query id appears in at most one state-changing event.
        foreach (var group in rig.Events().Select(e => (Event: e, Query: e.Get("callback", "query_id") ?? e.Get("query_id"))).Where(x => x.Query is not null).GroupBy(x => x.Query))
        {
            if (group.Count() > 1)
            {
                UpdatesAppliedTwice++;
                _violations.Add($"callback query {group.Key} recorded {group.Count()} times: {string.Join(", ", group.Select(x => x.Event.Type + "/" + x.Event.DraftId))}");
            }
        }

        var presses = rig.Traffic.Presses.ToDictionary(p => p.QueryId, StringComparer.Ordinal);
        var freshAcks = new Dictionary<long, int>();
        foreach (var answer in rig.Control.GetCallbackAnswers())
        {
            if (!presses.TryGetValue(answer.QueryId, out var press))
            {
                _violations.Add($"an answer to callback query {answer.QueryId} nobody pressed: {answer.Text}");
                continue;
            }
            if (!bySeq.TryGetValue(press.Seq, out var d))
            {
                _violations.Add($"a press on seq {press.Seq}, no such draft; answered {answer.Text}");
                continue;
            }
            string? acknowledged = answer.Text switch
            {
                "✅ Approved" => "approved",
                "❌ Rejected" => "rejected",
                _ => null,
            };
            if (acknowledged is not null)
            {
                Acknowledged++;
                freshAcks[press.Seq] = freshAcks.GetValueOrDefault(press.Seq) + 1;
                var e = eventsByDraft.GetValueOrDefault(d.Id);
                if (d.Decision != acknowledged || e?.Get("callback", "query_id") != press.QueryId)
                {
                    _violations.Add($"{d.Id}: the approver saw \"{answer.Text}\" for query {press.QueryId}; stored {d.Decision ?? "nothing"} from query {e?.Get("callback", "query_id")}");
                }
            }
            else if (answer.Text?.StartsWith("Already ", StringComparison.Ordinal) == true)
            {
                AcknowledgedAgain++;
                if (d.Decision is null || !answer.Text.StartsWith("Already " + d.Decision + " ", StringComparison.Ordinal))
                {
                    _violations.Add($"{d.Id}: answered \"{answer.Text}\" but stored {d.Decision ?? "nothing"}");
                }
            }
            else
            {
                _violations.Add($"{d.Id}: a press on a real card answered \"{answer.Text}\"");
            }
        }
        foreach (var (seq, count) in freshAcks.Where(x => x.Value > 1))
        {
            _violations.Add($"seq {seq}: {count} presses acknowledged as a new decision");
        }
        // Every press was confirmed (settle waited for it), so each pressed draft carries a decision.
        foreach (var press in rig.Traffic.Presses)
        {
            if (bySeq.TryGetValue(press.Seq, out var d) && d.Decision is null)
            {
                _violations.Add($"{d.Id}: pressed {press.Decision} (query {press.QueryId}), no decision stored (state {d.State})");
            }
        }
    }

    /// <summary>Every draft is final, or listed by /orphans or /stale: none waits silently.</summary>
    private void NothingStuckSilently(IReadOnlyList<CrashLoopRig.StoredDraft> drafts)
    {
        var listed = orphans.Items.Concat(stale.Items).Select(i => i.DraftId).OfType<string>().ToHashSet(StringComparer.Ordinal);
        foreach (var d in drafts.Where(d => !Final.Contains(d.State)))
        {
            if (listed.Contains(d.Id))
            {
                Reported++;
            }
            else
            {
                _violations.Add($"{d.Id}: {d.State}, not final and in neither /orphans nor /stale");
            }
        }
        Executed = drafts.Count(d => d.State == "executed");
        Unknown = drafts.Count(d => d.State == "unknown");
        Failed = drafts.Count(d => d.State == "failed");
    }

    /// <summary>
    /// Each executed draft's effect is at its sink under its idempotency key; no key and no draft has a second
    /// effect; a route that does not dedupe is never started twice for one approval.
    /// </summary>
    private void Effects(IReadOnlyList<CrashLoopRig.StoredDraft> drafts)
    {
        var byId = drafts.ToDictionary(d => d.Id, StringComparer.Ordinal);
        foreach (var sink in new[] { rig.PostSink, rig.DmSink })
        {
            var effects = sink.Effects();
            var starts = sink.Starts();
            Runs += starts.Count;
            if (sink.Dedupe)
            {
                AbsorbedRepeats += starts.Count - effects.Count;
            }
            foreach (var group in effects.GroupBy(e => e.Key).Where(g => g.Count() > 1))
            {
                DoubleEffects++;
                _violations.Add($"key {group.Key}: {group.Count()} effects ({group.First().DraftId})");
            }
            foreach (var group in effects.GroupBy(e => e.DraftId).Where(g => g.Select(e => e.Key).Distinct().Count() > 1))
            {
                DoubleEffects++;
                _violations.Add($"{group.Key}: effects under {group.Select(e => e.Key).Distinct().Count()} different keys");
            }
            foreach (var e in effects)
            {
                if (!byId.TryGetValue(e.DraftId, out var d) || d.Decision != "approved")
                {
                    _violations.Add($"an effect for {e.DraftId}, which is not an approved draft");
                }
                else if (d.ExecKey != e.Key)
                {
                    _violations.Add($"{d.Id}: effect under key {e.Key}, the store says {d.ExecKey}");
                }
            }
            if (!sink.Dedupe)
            {
                foreach (var group in starts.GroupBy(s => s.DraftId).Where(g => g.Count() > 1))
                {
                    _violations.Add($"{group.Key}: the non-deduping route was started {group.Count()} times");
                }
            }
            var kind = sink == rig.PostSink ? CrashLoopRig.IdempotentKind : CrashLoopRig.PlainKind;
            var keys = effects.Select(e => e.Key).ToHashSet(StringComparer.Ordinal);
            foreach (var d in drafts.Where(d => d.Kind == kind && d.State == "executed"))
            {
                if (d.ExecKey is null || !keys.Contains(d.ExecKey))
                {
                    _violations.Add($"{d.Id}: executed, but its sink has no effect under key {d.ExecKey}");
                }
            }
        }
    }
}
