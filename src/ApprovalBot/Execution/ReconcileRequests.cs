namespace ApprovalBot.Execution;

/// <summary>
/// Coalesces the executor's requests for a reconcile pass: at most one waits for the job at a time. The job is
/// non-concurrent, so each trigger queued behind a running pass ran in turn: a burst of failing runs (a sink answering
/// 503) queued one full pass per failure, each reading every draft that awaits something. A pass reads the store only
/// after it has begun, so a request made before it began is answered by it; one made after needs a pass of its own.
/// </summary>
internal sealed class ReconcileRequests
{
    private int _waiting;

    /// <summary>True when the caller should trigger the job: no pass requested earlier is still waiting to begin.</summary>
    public bool TryRequest() => Interlocked.Exchange(ref _waiting, 1) == 0;

    /// <summary>A pass begins (requested or on its interval): requests from here on need another one.</summary>
    public void Beginning() => Interlocked.Exchange(ref _waiting, 0);

    /// <summary>The trigger could not be handed to the scheduler: no pass waits.</summary>
    public void NotTriggered() => Interlocked.Exchange(ref _waiting, 0);
}
