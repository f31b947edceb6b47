using Microsoft.Extensions.Hosting;

namespace ApprovalBot.Sandbox.Http;

/// <summary>
/// Replaces the console lifetime, which would stop the sandbox on SIGTERM by itself. Whoever started it
/// stops it: the host after its poller is done, or the standalone Program on its own signal handlers.
/// </summary>
internal sealed class OwnerControlledLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
