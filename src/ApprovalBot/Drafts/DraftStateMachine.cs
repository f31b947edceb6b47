namespace ApprovalBot.Drafts;

/// <summary>
/// The only place that says which state may follow which. Every owner moves a draft through
/// <see cref="DraftStore.TransitionAsync"/>, which applies these as compare-and-set updates.
/// </summary>
internal static class DraftStateMachine
{
    private static readonly Dictionary<DraftState, DraftState[]> Allowed = new()
    {
        // A decision may arrive on a card whose delivery the bot saw fail (the response was lost), so pending may be decided.
        [DraftState.Pending] = [DraftState.Carded, DraftState.Approved, DraftState.Rejected, DraftState.Expired, DraftState.Cancelled],
        [DraftState.Carded] = [DraftState.Approved, DraftState.Rejected, DraftState.Expired, DraftState.Cancelled],
        // Approved -> Unknown: the copy's approvals after a restore from a backup, which cannot say whether they ran since
        // the backup (RestoredApprovals), and a draft left for a rerun under its key whose route no longer dedupes
        // (ExecutionLedger.Begin); nothing else moves an approved draft there. Approved -> Failed: a draft waiting for
        // its retry that has used up the attempts its route allows now (MaxAttempts lowered meanwhile), never run again.
        [DraftState.Approved] = [DraftState.Executing, DraftState.Blocked, DraftState.Cancelled, DraftState.Unknown, DraftState.Failed],
        // Executing -> Approved is a failed attempt waiting for its retry.
        [DraftState.Executing] = [DraftState.Executed, DraftState.Failed, DraftState.Unknown, DraftState.Blocked, DraftState.Approved],
        // Failed -> Unknown: a failed draft of a store restored from a backup, which an approver may have retried and run
        // since the backup (RestoredApprovals).
        [DraftState.Failed] = [DraftState.Approved, DraftState.Cancelled, DraftState.Unknown],
        [DraftState.Unknown] = [DraftState.Approved, DraftState.Executed, DraftState.Cancelled],
        [DraftState.Blocked] = [DraftState.Cancelled],
        [DraftState.Rejected] = [],
        [DraftState.Expired] = [],
        [DraftState.Cancelled] = [],
        [DraftState.Executed] = [],
    };

    public static bool CanMove(DraftState from, DraftState to) => Allowed[from].Contains(to);

    /// <summary>States in which the approver has not decided yet.</summary>
    public static bool AwaitsDecision(DraftState state) => state is DraftState.Pending or DraftState.Carded;

    public static bool IsFinal(DraftState state) => Allowed[state].Length == 0;

    /// <summary>States nothing automatic moves on: only an approver's action does.</summary>
    public static bool AwaitsHuman(DraftState state) => state is DraftState.Failed or DraftState.Blocked or DraftState.Unknown;
}
