namespace ApprovalBot.Sandbox.State;

/// <summary>
/// A pending getUpdates; a newer getUpdates terminates it with 409 like Telegram does.
/// The token source is never disposed: a late Terminate on a finished poll must stay harmless.
/// </summary>
internal sealed class PollTicket
{
    private readonly CancellationTokenSource _terminated = new();

    public CancellationToken Terminated => _terminated.Token;

    public bool Conflicted { get; private set; }

    public void Terminate()
    {
        Conflicted = true;
        _terminated.Cancel();
    }
}
