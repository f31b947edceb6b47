using Quartz;

namespace ApprovalBot.Execution;

/// <summary>
/// Coalesces the executor's requests for a reconcile pass: at most one waits for the job at a time. The job is
/// non-concurrent, so each trigger queued behind a running pass ran in turn: a burst of failing runs (a sink answering
/// 503) queued one full pass per failure, each reading every draft that awaits something. A pass reads the store only
/// after it has begun, so a request made before it began is answered by it; one made after needs a pass of its own.
/// Telegram's readmission of the bot asks through it too, for the escalations that waited on the chat.
/// </summary>
internal sealed class ReconcileRequests
{
    private int _waiting;
    private bool? _registered;

    /// <summary>
    /// Fires the reconcile job when one is registered (a host may compose the executor without reconciliation) and no
    /// pass requested earlier is still waiting to begin; true when it fired it. A scheduler that fails leaves no pass waiting.
    /// </summary>
    public async Task<bool> RequestAsync(IScheduler scheduler)
    {
        _registered ??= await scheduler.GetJobDetail(ApprovalJobKeys.Reconcile).ConfigureAwait(false) is not null;
        if (_registered != true || !TryRequest())
        {
            return false;
        }
        try
        {
            await scheduler.TriggerJob(ApprovalJobKeys.Reconcile).ConfigureAwait(false);
            return true;
        }
        catch
        {
            NotTriggered();
            throw;
        }
    }

    /// <summary>True when the caller should trigger the job: no pass requested earlier is still waiting to begin.</summary>
    public bool TryRequest() => Interlocked.Exchange(ref _waiting, 1) == 0;

    /// <summary>A pass begins (requested or on its interval): requests from here on need another one.</summary>
    public void Beginning() => Interlocked.Exchange(ref _waiting, 0);

    /// <summary>The trigger could not be handed to the scheduler: no pass waits.</summary>
    public void NotTriggered() => Interlocked.Exchange(ref _waiting, 0);
}
