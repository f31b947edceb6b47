using ApprovalBot.Sandbox;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Telegram.Sandbox;

/// <summary>Starts <see cref="SandboxServer"/> in this process at <c>Sandbox:Url</c>. Tests reach it through <see cref="Server"/>.</summary>
internal sealed class BuiltInSandbox(IOptions<SandboxOptions> options, ILoggerFactory loggerFactory) : IBuiltInSandbox, IAsyncDisposable
{
    public SandboxServer? Server { get; private set; }

    public async Task<SandboxEndpoint> StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        Server = await SandboxServer.StartAsync(new SandboxSettings { Url = o.Url, RateLimits = o.RateLimits, AllowRemote = o.AllowRemote }, loggerFactory, cancellationToken).ConfigureAwait(false);
        return new SandboxEndpoint(Server.BaseUrl.ToString().TrimEnd('/'), Server.Token, Server.PrivateChatId, Server.Settings.ApproverId);
    }

    public async Task StopAsync()
    {
        if (Server is { } server)
        {
            await server.StopAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Server is { } server)
        {
            await server.DisposeAsync().ConfigureAwait(false);
        }
    }
}
