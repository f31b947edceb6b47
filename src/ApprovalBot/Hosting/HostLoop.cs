using Microsoft.Extensions.Hosting;

namespace ApprovalBot.Hosting;

/// <summary>
/// A background loop of the service that says how it ended: whether its stop had been asked for (its stopping token
/// cancelled) by then. <see cref="BackgroundLoops"/> reads it. Its look at the loops when the stop is asked for runs
/// after the host's own reactions to that stop, which can stop a loop on the spot (SIGTERM while the host was still
/// starting); seen ended there, the loop was taken for one that had ended before any stop, and the process exited 1,
/// so a supervisor restarted the service it was stopping.
/// </summary>
internal abstract class HostLoop : BackgroundService
{
    private volatile bool _endedOnStop;

    /// <summary>True once the loop has ended after its stop was asked for.</summary>
    public bool EndedOnStop => _endedOnStop;

    protected sealed override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await RunAsync(stoppingToken).ConfigureAwait(false);
        }
        finally
        {
            _endedOnStop = stoppingToken.IsCancellationRequested;
        }
    }

    /// <summary>The loop, until <paramref name="stoppingToken"/> is cancelled.</summary>
    protected abstract Task RunAsync(CancellationToken stoppingToken);
}
