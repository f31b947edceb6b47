using System.Net;
using System.Net.Sockets;
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
            throw CannotListen(o.Url, bind.Message, ex);
        }
        return new SandboxEndpoint(Server.BaseUrl.ToString().TrimEnd('/'), Server.Token, Server.PrivateChatId, Server.Settings.ApproverId, first, Server.Control.GroupChatId);
    }

    /// <summary>
    /// Refuses the start while another process listens where the sandbox would (a <see cref="Hosting.StartupLock"/> without
    /// a file): looked at before the store is opened, which the sandbox needs for its first message id, so that a refused
    /// start leaves no approvals.db behind in a new data directory. Each address Kestrel would bind for the URL is bound and
    /// let go at once; one taken in between still refuses the start, in <see cref="StartAsync"/>.
    /// </summary>
    public static void ThrowIfUrlInUse(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Port == 0)
        {
            return; // port 0 is any free port; a URL that is not one was refused by the settings' check already
        }
        foreach (var endPoint in EndPointsOf(uri))
        {
            try
            {
                // Inside the try: a machine without IPv6 refuses the socket itself, which is the start's own bind's to report.
                using var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                if (endPoint.Address.Equals(IPAddress.IPv6Any))
                {
                    socket.DualMode = true;
                }
                socket.Bind(endPoint);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                throw CannotListen(url, $"{endPoint} is in use.", ex);
            }
            catch (SocketException)
            {
                // Not this check's to say (an address this machine lacks): the start's own bind reports it.
            }
        }
    }

    /// <summary>What Kestrel binds for <paramref name="url"/>: both loopbacks for localhost, the address given, else every interface.</summary>
    private static IEnumerable<IPEndPoint> EndPointsOf(Uri url)
    {
        var host = url.Host.Trim('[', ']');
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return Socket.OSSupportsIPv6 ? [new(IPAddress.Loopback, url.Port), new(IPAddress.IPv6Loopback, url.Port)] : [new(IPAddress.Loopback, url.Port)];
        }
        return IPAddress.TryParse(host, out var ip)
            ? [new(ip, url.Port)]
            : [new(Socket.OSSupportsIPv6 ? IPAddress.IPv6Any : IPAddress.Any, url.Port)];
    }

    /// <summary>Most often a second copy on the default port: its cause and the setting to change, said once, not as a crash.</summary>
    private static StartupRefusedException CannotListen(string url, string reason, Exception inner) => new(
        $"The built-in Telegram sandbox cannot listen on {url} (ApprovalBot:Sandbox:Url): {reason} " +
        "Is another ApprovalBot or sandbox running? Stop it, or give this instance its own ApprovalBot:Sandbox:Url (port 0 picks a free port).", inner);

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
