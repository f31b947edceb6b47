namespace ApprovalBot.Reconciliation;

/// <summary>
/// Whether decisions made while the service was down can still be on their way. An approver's tap on a card while no
/// service runs waits at Telegram until the poller fetches it, and Telegram gives no time of the tap; an expiry committed
/// before that fetch would beat a decision made in time, and an escalation would call for a decision already taken. The
/// <see cref="Reconciler"/> holds its cycles until this says they are in, and <see cref="ReconcileWhenDecisionsTakenIn"/>
/// runs one as soon as it does.
/// </summary>
internal interface IMissedDecisions
{
    /// <summary>True once nothing decided while the service was down can still arrive (fetched, or given up on).</summary>
    bool TakenIn { get; }

    /// <summary>Completes when <see cref="TakenIn"/> becomes true.</summary>
    Task WhenTakenIn { get; }

    /// <summary>
    /// Every tap made before the returned time is in: <paramref name="now"/> while updates are fetched, earlier while the
    /// poller cannot fetch them (Telegram out of reach, the store failing), so that an expiry does not beat a tap made in time.
    /// </summary>
    DateTimeOffset TapsSeenBefore(DateTimeOffset now);
}

/// <summary>Without a chat (no Telegram composed) there is nothing to wait for.</summary>
internal sealed class NoMissedDecisions : IMissedDecisions
{
    public bool TakenIn => true;

    public Task WhenTakenIn => Task.CompletedTask;

    public DateTimeOffset TapsSeenBefore(DateTimeOffset now) => now;
}
