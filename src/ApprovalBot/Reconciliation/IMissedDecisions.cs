namespace ApprovalBot.Reconciliation;

/// <summary>
/// Whether decisions made while the service was down can still be on their way. An approver's tap on a card while no
/// service runs waits at Telegram until the poller fetches it, and Telegram gives no time of the tap; an expiry committed
/// before that fetch would beat a decision made in time. <see cref="DraftExpiry"/> waits for this to say they are in.
/// </summary>
internal interface IMissedDecisions
{
    /// <summary>True once nothing decided while the service was down can still arrive (fetched, or given up on).</summary>
    bool TakenIn { get; }
}

/// <summary>Without a chat (no Telegram composed) there is nothing to wait for.</summary>
internal sealed class NoMissedDecisions : IMissedDecisions
{
    public bool TakenIn => true;
}
