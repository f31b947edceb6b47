namespace ApprovalBot.Reconciliation;

/// <summary>Bound from <c>ApprovalBot:Reconciliation</c>.</summary>
internal sealed class ReconciliationOptions
{
    public const string Section = "ApprovalBot:Reconciliation";

    /// <summary>Seconds between reconcile cycles (it also runs after every executor cycle).</summary>
    public int IntervalSeconds { get; set; } = 60;

    /// <summary>How often a gap that is still open is escalated again.</summary>
    public TimeSpan RemindEvery { get; set; } = TimeSpan.FromHours(6);

    /// <summary>Most gaps in one escalation message; a larger burst becomes several messages, not a flood.</summary>
    public int MaxGapsPerMessage { get; set; } = 20;

    /// <summary>How far back refused callbacks and expired leases are reported.</summary>
    public TimeSpan EventWindow { get; set; } = TimeSpan.FromDays(7);
}
