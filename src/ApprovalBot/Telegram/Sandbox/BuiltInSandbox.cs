using ApprovalBot.Drafts;
using ApprovalBot.Sandbox;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Telegram.Sandbox;

/// <summary>Starts <see cref="SandboxServer"/> in this process at <c>Sandbox:Url</c>. Tests reach it through <see cref="Server"/>.</summary>
internal sealed class BuiltInSandbox(IOptions<SandboxOptions> options, DraftStore store, TimeProvider time, ILoggerFactory loggerFactory)
    : IBuiltInSandbox, IAsyncDisposable
{
    public SandboxServer? Server { get; private set; }

    public async Task<SandboxEndpoint> StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        var first = FirstMessageId();
        try
        {
            Server = await SandboxServer.StartAsync(
                new SandboxSettings { Url = o.Url, RateLimits = o.RateLimits, AllowRemote = o.AllowRemote, FirstMessageId = first }, loggerFactory, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException ex) when (ex.InnerException is IOException bind)
        {
            // Most often a second copy on the default port: its cause and the setting to change, said once, not as a crash.
            throw new StartupRefusedException(
                $"The built-in Telegram sandbox cannot listen on {o.Url} (ApprovalBot:Sandbox:Url): {bind.Message} " +
                "Is another ApprovalBot or sandbox running? Stop it, or give this instance its own ApprovalBot:Sandbox:Url (port 0 picks a free port).", ex);
        }
        return new SandboxEndpoint(Server.BaseUrl.ToString().TrimEnd('/'), Server.Token, Server.PrivateChatId, Server.Settings.ApproverId, first);
    }

    /// <summary>
    /// Above every card that can still be edited: the cards of an earlier run went with its sandbox, and an edit of one
    /// of them (its draft executed, a card behind its draft at start) must meet no message, never another draft's card.
    /// The clock alone (the sandbox's default) falls short when the earlier run sent faster than one message a second.
    /// Only drafts that can still change, or whose card is behind them, can have their card edited: both are read
    /// through an index (drafts_by_state, drafts_card_behind), so a start does not read a big store's final drafts.
    /// </summary>
    private int FirstMessageId()
    {
        var highest = store.Read(connection =>
        {
            using var cmd = connection.CreateCommand();
            cmd.CommandText = $"SELECT MAX(m) FROM (SELECT MAX(card_message_id) AS m FROM drafts WHERE state IN ({NotFinal}) " +
                              "UNION ALL SELECT MAX(card_message_id) FROM drafts WHERE card_shown_state <> state OR card_shown_since <> state_since)";
            return cmd.ExecuteScalar() is long id ? id : 0;
        });
        return (int)Math.Clamp(Math.Max(SandboxSettings.ClockBasedFirstMessageId(time.GetUtcNow()), highest + 1), 1, int.MaxValue);
    }

    private static readonly string NotFinal = string.Join(", ",
        Enum.GetValues<DraftState>().Where(s => !DraftStateMachine.IsFinal(s)).Select(s => "'" + s.ToWire() + "'"));

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
