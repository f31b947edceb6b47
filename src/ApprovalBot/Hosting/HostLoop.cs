using Microsoft.Extensions.Hosting;

namespace ApprovalBot.Hosting;

/// <summary>
/// A background loop of the service that says how it ended: whether a stop had been asked for by then, its own (its
/// stopping token) or the host's (<see cref="WatchStop"/>). <see cref="BackgroundLoops"/> reads it. Asked at the end, not
/// in a look at the loops when the stop comes: such a look runs after the host's own reactions to the stop, which can
/// end a loop on the spot (SIGTERM while the host was still starting), and took that loop for one that had ended before
/// any stop; the process exited 1, so a supervisor restarted the service it was stopping.
/// </summary>
internal abstract class HostLoop : BackgroundService
{
    private CancellationToken _hostStopping = CancellationToken.None;
    private volatile bool _ran;
    private volatile bool _endedOnStop;

    /// <summary>
    /// True once the loop has ended after a stop was asked for, or ended without running: the host runs it on the
    /// stopping token, so a stop before it began cancels it unrun.
    /// </summary>
    public bool EndedOnStop => !_ran || _endedOnStop;

    /// <summary>Before the host starts: a loop that ends once <paramref name="hostStopping"/> is cancelled ended on a stop.</summary>
    public void WatchStop(CancellationToken hostStopping) => _hostStopping = hostStopping;

    protected sealed override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _ran = true;
        try
        {
            await RunAsync(stoppingToken).ConfigureAwait(false);
        }
        finally
        {
            // A token is cancelled before any of its callbacks run: a loop ended by one of them sees it cancelled already.
            _endedOnStop = stoppingToken.IsCancellationRequested || _hostStopping.IsCancellationRequested;
        }
    }

    /// <summary>The loop, until <paramref name="stoppingToken"/> is cancelled.</summary>
    protected abstract Task RunAsync(CancellationToken stoppingToken);
}
