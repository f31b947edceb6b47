using ApprovalBot.Cli;
using ApprovalBot.Client;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Cli;

public sealed class ServiceCallerTests
{
    [Fact]
    public async Task ExchangeAsync_ServiceNeverAnswers_UnavailableAfterTheResponseTimeout()
    {
        await using var peer = SilentPipePeer.Start();
        var caller = new ServiceCaller(peer.Path, json: false, TextWriter.Null, responseTimeout: TimeSpan.FromMilliseconds(200));

        var error = await Assert.ThrowsAsync<CliException>(() => caller.ExchangeAsync("""{"op":"ping"}"""u8.ToArray(), CancellationToken.None));

        Assert.Equal(ExitCodes.Unavailable, error.ExitCode);
        Assert.Contains("no answer from the service", error.Message);
        Assert.Contains("run the same command again", error.Message);
    }

    [Fact]
    public async Task SendAsync_WaitLongerThanTheResponseTimeout_TheServiceWaitIsAllowedFor()
    {
        await using var host = await TestHost.StartAsync();
        await new ServiceCaller(host.PipeName, json: false, TextWriter.Null)
            .SendAsync(new SubmitRequest { Draft = new DraftSubmission { Id = "reply:cli-wait", Kind = "reply", Agent = "a", Text = "t" } }, CancellationToken.None);
        var caller = new ServiceCaller(host.PipeName, json: false, TextWriter.Null, responseTimeout: TimeSpan.FromSeconds(1.5));

        // The service answers after 3 s, past the response timeout alone.
        var response = await caller.SendAsync(new WaitRequest { Id = "reply:cli-wait", TimeoutMs = 3000 }, CancellationToken.None);

        Assert.True(response.Ok);
        Assert.Contains(response.Draft!.State, new[] { States.Pending, States.Carded });
    }

    [Fact]
    public void Constructor_ResponseTimeoutNotPositive_Refused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new ServiceCaller("approvalbot", json: false, TextWriter.Null, responseTimeout: TimeSpan.Zero));

    /// <summary>The line the service writes before it closes an idle connection for a waiting agent, as it writes it.</summary>
    private const string ClosedUnserved =
        """{"ok":false,"error":{"code":"unavailable","message":"the service closed this idle connection …; this request was not carried out: connect again and send it again"},"closed":true}""";

    private const string Receipt = """{"ok":true,"receipt":{"id":"reply:x","seq":7,"sha256":"s","state":"pending","duplicate":false}}""";

    private static readonly byte[] Submit = """{"op":"submit","draft":{"id":"reply:x","kind":"reply","agent":"a","text":"t"}}"""u8.ToArray();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Exchange_AnsweredThatTheConnectionWasClosedUnserved_SentAgainOnANewConnection(bool blocking)
    {
        await using var peer = ScriptedPipePeer.Start();
        var caller = new ServiceCaller(peer.Path, json: false, TextWriter.Null, responseTimeout: TimeSpan.FromSeconds(20));

        // The submit fast path (blocking) and every other command (async): both send it again, since it was not read.
        var exchanging = blocking ? Task.Run(() => caller.Exchange(Submit)) : caller.ExchangeAsync(Submit, CancellationToken.None);
        for (var i = 0; i < 3; i++)
        {
            using var closed = await peer.AcceptAsync();
            Assert.Contains("reply:x", await closed.ReadLineAsync());
            closed.WriteLine(ClosedUnserved);
        }
        using var served = await peer.AcceptAsync();
        Assert.Contains("reply:x", await served.ReadLineAsync());
        served.WriteLine(Receipt);

        Assert.Equal(Receipt, await exchanging.WaitAsync(TimeSpan.FromSeconds(20)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Exchange_ClosedUnservedAndNoNewConnectionWithinTheResponseTimeout_UnavailableSayingItWasNotCarriedOut(bool blocking)
    {
        await using var peer = ScriptedPipePeer.Start();
        var caller = new ServiceCaller(peer.Path, json: false, TextWriter.Null, responseTimeout: TimeSpan.FromSeconds(3), connectTimeout: TimeSpan.FromSeconds(60));
        var accepting = peer.AcceptAsync();

        var exchanging = blocking ? Task.Run(() => caller.Exchange(Submit)) : caller.ExchangeAsync(Submit, CancellationToken.None);
        using var connection = await accepting;
        Assert.Contains("reply:x", await connection.ReadLineAsync());
        // Gone, leaving a socket file that refuses (killed -9): connecting again runs into the response timeout.
        peer.Die();
        connection.WriteLine(ClosedUnserved);

        var error = await Assert.ThrowsAsync<CliException>(() => exchanging.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(ExitCodes.Unavailable, error.ExitCode);
        Assert.Contains("closed the connection before the request reached it", error.Message, StringComparison.Ordinal);
        Assert.Contains("it was not carried out: run the same command again", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("may still carry", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Exchange_ServiceGoneAfterClosingTheConnection_UnavailableSayingItWasNotCarriedOut(bool blocking)
    {
        await using var peer = ScriptedPipePeer.Start();
        var caller = new ServiceCaller(peer.Path, json: false, TextWriter.Null, responseTimeout: TimeSpan.FromSeconds(20));

        var exchanging = blocking ? Task.Run(() => caller.Exchange(Submit)) : caller.ExchangeAsync(Submit, CancellationToken.None);
        using (var closed = await peer.AcceptAsync())
        {
            Assert.Contains("reply:x", await closed.ReadLineAsync());
            peer.StopListening();
            closed.WriteLine(ClosedUnserved);
        }

        var error = await Assert.ThrowsAsync<CliException>(() => exchanging.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(ExitCodes.Unavailable, error.ExitCode);
        Assert.Contains("connecting again failed", error.Message, StringComparison.Ordinal);
        Assert.Contains("it was not carried out: run the same command again", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Exchange_SocketFileThereButTheServiceNotListeningYet_WaitsForItAndGetsItsAnswer(bool blocking)
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("starting.sock");
        using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        listener.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
        // A connect timeout far beyond the test's pace, so that a slow test thread cannot outlast it; the CLI's own is 2 s.
        var caller = new ServiceCaller(path, json: false, TextWriter.Null, connectTimeout: TimeSpan.FromSeconds(60));

        var exchanging = blocking ? Task.Run(() => caller.Exchange("""{"op":"ping"}"""u8.ToArray())) : caller.ExchangeAsync("""{"op":"ping"}"""u8.ToArray(), CancellationToken.None);
        // Nothing signals a connect that keeps trying; one given up on (a refused connect taken as no service) ends at once.
        await Task.Delay(500);
        Assert.False(exchanging.IsCompleted, exchanging.Exception?.ToString());
        listener.Listen();
        using var connection = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(30));
        using var stream = new System.Net.Sockets.NetworkStream(connection);
        using var reader = new StreamReader(stream);
        Assert.Equal("""{"op":"ping"}""", await reader.ReadLineAsync());
        await stream.WriteAsync("""{"ok":true,"version":"9.9"}"""u8.ToArray().Append((byte)'\n').ToArray());

        Assert.Equal("""{"ok":true,"version":"9.9"}""", await exchanging.WaitAsync(TimeSpan.FromSeconds(30)));
    }
}
