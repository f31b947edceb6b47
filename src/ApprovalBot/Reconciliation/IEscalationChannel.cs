namespace ApprovalBot.Reconciliation;

/// <summary>
/// Where escalations go: the approver's chat. Reconciliation decides what is escalated and when; the chat
/// feature (Telegram) decides how it looks, and may split one escalation into several messages.
/// </summary>
internal interface IEscalationChannel
{
    /// <summary>
    /// Sends <paramref name="escalation"/>, in one message or more. After each message the chat took, <paramref name="delivered"/>
    /// is awaited with the gaps it carried, before the next message goes: the caller records them, so a failure of a later
    /// message leaves only the gaps not delivered yet to be sent again, also after a restart. Returns once every message is
    /// delivered; throws if one was not (an exception of <paramref name="delivered"/> included, the messages after it unsent).
    /// </summary>
    Task SendAsync(Escalation escalation, Func<IReadOnlyList<EscalatedGap>, Task> delivered, CancellationToken cancellationToken);

    /// <summary>Sends <paramref name="escalation"/> with nothing to record per message.</summary>
    Task SendAsync(Escalation escalation, CancellationToken cancellationToken) => SendAsync(escalation, _ => Task.CompletedTask, cancellationToken);
}

/// <summary>One message to the approver naming one or more gaps.</summary>
internal sealed record Escalation(string Title, IReadOnlyList<EscalatedGap> Gaps);

/// <summary>A gap as the approver sees it, with the action buttons that apply to its draft.</summary>
internal sealed record EscalatedGap(string? DraftId, long? DraftSeq, string? DraftSha256, string Gap, DateTimeOffset Since, string Detail, IReadOnlyList<ApproverAction> Actions, bool Reminder)
{
    /// <summary>The ledger event behind a gap that names no draft (a stray tap); its Dismiss button is bound to it.</summary>
    public long? EventId { get; init; }

    /// <summary>The draft's state_since when the gap was found: its Retry and Mark done buttons apply to that episode only.</summary>
    public DateTimeOffset? StateSince { get; init; }

    /// <summary>Set on the gap that stands for those of its class the report could not list: how many they are.</summary>
    public long? NotListed { get; init; }
}

/// <summary>A button the approver can press on an escalation.</summary>
internal enum ApproverAction
{
    Retry,
    Discard,
    MarkDone,

    /// <summary>Acknowledges a gap that needs no action on a draft (a stray tap): closes it for good.</summary>
    Dismiss,

    /// <summary>
    /// Sends the card of a draft awaiting a decision again, below: its card may be gone from the chat (deleted by an admin)
    /// or out of reach in a busy one. Changes no state; the new message becomes the card.
    /// </summary>
    ResendCard,
}
