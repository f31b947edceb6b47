using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Hosting;
using ApprovalBot.Pipe;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ApprovalBot.Tests.Infrastructure;

/// <summary>
/// The real host, in-process, composed like Program.cs, on a temp data directory and a temp socket path.
/// Tests talk to it through the real pipe with real clients.
/// </summary>
internal sealed class TestHost : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly TempDirectory? _ownedDirectory;

    private TestHost(IHost host, string dataDirectory, string pipeName, TempDirectory? ownedDirectory)
    {
        _host = host;
        DataDirectory = dataDirectory;
        PipeName = pipeName;
        _ownedDirectory = ownedDirectory;
    }

    /// <summary>Absolute socket path of the agent pipe.</summary>
    public string PipeName { get; }

    public string DataDirectory { get; }

    public IServiceProvider Services => _host.Services;

    public DraftStore Store => Services.GetRequiredService<DraftStore>();

    /// <summary>Settings as <c>key=value</c> (without the leading <c>--</c>), appended after the test defaults so they win.</summary>
    public static async Task<TestHost> StartAsync(
        IEnumerable<string>? settings = null,
        Action<IServiceCollection>? services = null,
        string? dataDirectory = null,
        Action<HostApplicationBuilder>? compose = null)
    {
        TempDirectory? owned = null;
        if (dataDirectory is null)
        {
            owned = new TempDirectory();
            dataDirectory = owned.Path;
        }
        var pipeName = Path.Combine(dataDirectory, "p.sock");
        var args = new List<string>
        {
            $"--ApprovalBot:DataDirectory={dataDirectory}",
            $"--ApprovalBot:Pipe:Name={pipeName}",
            "--Serilog:MinimumLevel:Default=Warning",
        };
        args.AddRange((settings ?? []).Select(s => "--" + s));

        var builder = ApprovalBotHost.CreateBuilder([.. args]);
        builder.AddApprovalBotLogging();
        builder.AddApprovalStore();
        builder.AddAgentPipe();
        compose?.Invoke(builder);
        services?.Invoke(builder.Services);
        var host = builder.Build();
        try
        {
            await host.StartAsync();
            await host.Services.GetRequiredService<AgentPipeServer>().Listening;
        }
        catch
        {
            host.Dispose();
            owned?.Dispose();
            throw;
        }
        return new TestHost(host, dataDirectory, pipeName, owned);
    }

    public Task<PipeClient> ConnectAsync() => PipeClient.ConnectAsync(PipeName, TimeSpan.FromSeconds(10));

    /// <summary>Waits on the store's change signal (no polling) until the draft is in <paramref name="state"/>.</summary>
    public async Task<Draft> WaitForStateAsync(string draftId, DraftState state, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            using var next = Store.Signals.NextChange(draftId);
            if (Store.Get(draftId) is { } draft && draft.State == state)
            {
                return draft;
            }
            await next.WaitAsync(deadline - DateTime.UtcNow);
        }
    }

    /// <summary>Stops the host as a service manager would (SIGTERM); its services stay readable until disposal.</summary>
    public Task StopAsync() => _host.StopAsync();

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _host.StopAsync();
        }
        finally
        {
            _host.Dispose();
            _ownedDirectory?.Dispose();
        }
    }
}
