using ApprovalBot.Sandbox;
using ApprovalBot.Tests.Execution;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Reconciliation;

/// <summary>
/// What the end-to-end classes share: a data directory that outlives a host (so a test can restart it on the same
/// store), a real command route script, and the Bot API sandbox over HTTP without rate limits.
/// </summary>
public abstract class SandboxedFlowTests : IAsyncLifetime
{
    private protected readonly TempDirectory _data = new();
    private protected readonly RouteScript _route = new();
    private protected SandboxServer _sandbox = null!;

    public async Task InitializeAsync() =>
        _sandbox = await SandboxServer.StartAsync(new SandboxSettings { Url = "http://127.0.0.1:0", RateLimits = false });

    public async Task DisposeAsync()
    {
        await _sandbox.DisposeAsync();
        _route.Dispose();
        _data.Dispose();
    }
}
