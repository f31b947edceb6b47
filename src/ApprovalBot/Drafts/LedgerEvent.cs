namespace ApprovalBot.Drafts;

/// <summary>One row of the append-only ledger.</summary>
internal sealed record LedgerEvent(long Id, string? DraftId, DateTimeOffset At, string Type, string Actor, string? Details);
