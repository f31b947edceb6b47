using ApprovalBot.Drafts;
using ApprovalBot.Execution.Routes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Execution;

/// <summary>
/// Settles a restored store's approvals (<see cref="RestoredApprovals"/>) as the store opens, before the pipe binds its
/// socket: a pull agent's claim can come as soon as the socket answers, which is before the first executor cycle (Quartz
/// waits for the whole start), and it would take a copy's approval on a route that does not dedupe before it was made
/// unknown.
/// </summary>
internal sealed class SettleRestoredApprovals(
    DraftStore store,
    IOptions<ExecutorRoutesOptions> routes,
    TimeProvider time,
    ILogger<SettleRestoredApprovals> logger) : IStoreOpenedStep
{
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        foreach (var (d, restored) in await RestoredApprovals.SettleAsync(store, routes.Value, time.GetUtcNow()).ConfigureAwait(false))
        {
            logger.ApprovalUnsettledByRestore(d.Id, d.Kind, restored.ToWire(), d.ExecAttempts);
        }
    }
}
