using ApprovalBot.Client;
using ApprovalBot.Tests.Cli;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Telegram;

/// <summary>
/// An agent waiting on a draft each way there is: the pipe's <c>wait</c> and <c>wait</c> until final, <c>approvalctl wait</c>
/// and <c>approvalctl wait --final</c>, each with the longest timeout, so each is answered by the draft's move, not by it.
/// </summary>
internal sealed class DraftWaits : IAsyncDisposable
{
    private readonly PipeClient _agent;
    private readonly PipeClient _finalAgent;

    private DraftWaits(PipeClient agent, PipeClient finalAgent, string id, string pipeName)
    {
        _agent = agent;
        _finalAgent = finalAgent;
        Decided = agent.WaitAsync(id, 600_000);
        Final = finalAgent.WaitAsync(id, 600_000, WaitUntil.Final);
        Cli = CliRunner.RunAsync("wait", id, "--timeout", "600", "--pipe", pipeName);
        CliFinal = CliRunner.RunAsync("wait", id, "--final", "--timeout", "600", "--pipe", pipeName);
    }

    public Task<Response> Decided { get; }

    public Task<Response> Final { get; }

    public Task<CliRun> Cli { get; }

    public Task<CliRun> CliFinal { get; }

    /// <summary>Starts the four waits on <paramref name="id"/> and returns once the store has all four waiting on it.</summary>
    public static async Task<DraftWaits> StartAsync(TestHost host, string id)
    {
        var waits = new DraftWaits(await host.ConnectAsync(), await host.ConnectAsync(), id, host.PipeName);
        await Eventually.TrueAsync(() => host.Store.Signals.Waiting == 4, "four waits on the draft");
        return waits;
    }

    public async ValueTask DisposeAsync()
    {
        await _agent.DisposeAsync();
        await _finalAgent.DisposeAsync();
    }
}
