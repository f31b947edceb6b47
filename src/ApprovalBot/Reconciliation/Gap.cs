using ApprovalBot.Execution;

namespace ApprovalBot.Reconciliation;

/// <summary>One gap between two steps of a draft's flow, as found in the store.</summary>
internal sealed record Gap(string Report, string Name, string? DraftId, long? DraftSeq, string? DraftSha256, string? State, DateTimeOffset Since, string Detail)
{
    /// <summary>
    /// What is wrong, as one line of plain text (<see cref="OutputText.OneLine"/>): it quotes stored errors, and an
    /// error stored by a build before route output was cleaned holds a program's raw stderr (line breaks, terminal
    /// escapes), which the gap's log line, the pipe's report and the chat would otherwise carry as it is.
    /// </summary>
    public string Detail { get; init; } = OutputText.OneLine(Detail) ?? Detail;

    /// <summary>Identifies the gap across cycles, so it is escalated once and then only reminded.</summary>
    public required string Key { get; init; }

    public IReadOnlyList<ApproverAction> Actions { get; init; } = [];

    /// <summary>
    /// When the draft entered the state the gap was found in (its state_since then): the episode a Retry or Mark done
    /// on the escalation is bound to. Null for gaps that name no draft or were not read from the draft row.
    /// </summary>
    public DateTimeOffset? StateSince { get; init; }

    /// <summary>The ledger event the gap was found from (a stray tap), for gaps that name no draft; what Dismiss closes.</summary>
    public long? EventId { get; init; }

    /// <summary>
    /// Set only on the item that stands for the gaps of its class past the report's limit (<c>&lt;report&gt;:&lt;gap&gt;:more</c>):
    /// how many it stands for. Its presence says the class was not listed in full, so an open escalation of the class
    /// missing from the report may still be a gap.
    /// </summary>
    public long? NotListed { get; init; }
}

/// <summary>The report names and gap classes, as they appear in reports and escalations.</summary>
internal static class Gaps
{
    public const string Orphans = "orphans";
    public const string Stale = "stale";

    public const string TextMissing = "text_missing";
    public const string TextChanged = "text_changed";
    public const string OrphanCallback = "orphan_callback";
    public const string CardUndelivered = "card_undelivered";
    public const string CardWaiting = "card_waiting";
    public const string CardUnconfirmed = "card_unconfirmed";
    public const string NoRoute = "no_route";
    public const string PullUnclaimed = "pull_unclaimed";
    public const string LeaseExpired = "lease_expired";
    public const string DecisionMissing = "decision_missing";

    public const string AwaitingDecision = "awaiting_decision";
    public const string NotExecuted = "not_executed";
    public const string AwaitingHuman = "awaiting_human";

    /// <summary>
    /// Classes listed by the reports but never sent to the chat: a card that has not reached the chat in 10 minutes is
    /// held up by the chat itself (Telegram down, the bot removed from it, its token refused), where an escalation would
    /// wait with it, and arrive beside the cards it is about. The card outbox logs the cause.
    /// </summary>
    public static bool IsEscalated(string gap) => gap != CardWaiting;
}
