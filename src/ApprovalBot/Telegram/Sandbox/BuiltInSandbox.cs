using ApprovalBot.Drafts;
using ApprovalBot.Sandbox;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Telegram.Sandbox;

/// <summary>Starts <see cref="SandboxServer"/> in this process at <c>Sandbox:Url</c>. Tests reach it through <see cref="Server"/>.</summary>
internal sealed class BuiltInSandbox(IOptions<SandboxOptions> options, DraftStore store, ILoggerFactory loggerFactory) : IBuiltInSandbox, IAsyncDisposable
{
    public SandboxServer? Server { get; private set; }

    public async Task<SandboxEndpoint> StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        var first = FirstMessageId();
        Server = await SandboxServer.StartAsync(
            new SandboxSettings { Url = o.Url, RateLimits = o.RateLimits, AllowRemote = o.AllowRemote, FirstMessageId = first }, loggerFactory, cancellationToken).ConfigureAwait(false);
        return new SandboxEndpoint(Server.BaseUrl.ToString().TrimEnd('/'), Server.Token, Server.PrivateChatId, Server.Settings.ApproverId, first);
    }

    /// <summary>
    /// Above every card on record: the cards of an earlier run went with its sandbox, and an edit of one of them (its
    /// draft executed, a card behind its draft at start) must meet no message, never another draft's card. The clock
    /// alone (the sandbox's default) falls short when the earlier run sent faster than one message a second. One read of
    /// the drafts at start, in sandbox mode only.
    /// </summary>
    private int FirstMessageId()
    {
        var highest = store.Read(connection =>
        {
            using var cmd = connection.CreateCommand();
            cmd.CommandText = "SELECT MAX(card_message_id) FROM drafts";
            return cmd.ExecuteScalar() is long id ? id : 0;
        });
        return (int)Math.Clamp(Math.Max(SandboxSettings.ClockBasedFirstMessageId(DateTimeOffset.UtcNow), highest + 1), 1, int.MaxValue);
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
