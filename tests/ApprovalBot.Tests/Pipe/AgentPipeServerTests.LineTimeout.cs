using System.Net.Sockets;
using System.Text;
using ApprovalBot.Client;
using ApprovalBot.Pipe;
using ApprovalBot.Tests.Execution;
using ApprovalBot.Tests.Infrastructure;
using ApprovalBot.Tests.Telegram;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Tests.Pipe;

/// <summary>
/// Pipe:LineTimeout: an agent that sends part of a request line and never its end is answered line_timeout and
/// closed, so it does not hold a connection slot for as long as it stays connected; an idle one keeps its connection.
/// </summary>
public sealed partial class AgentPipeServerTests
{
    private static async Task<(Socket Socket, NetworkStream Stream, StreamReader Reader)> RawAgentAsync(TestHost host)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(host.PipeName));
        var stream = new NetworkStream(socket, ownsSocket: true);
        return (socket, stream, new StreamReader(stream));
    }

    /// <summary>Waits until <paramref name="count"/> line deadlines of <paramref name="timeout"/> are armed on the clock, which has not moved.</summary>
    private static async Task LineDeadlinesArmedAsync(SignallingClock clock, TimeSpan timeout, int count = 1)
    {
        while (count > 0)
        {
            if (await clock.NextTimerAsync(Served) == clock.GetUtcNow() + timeout)
            {
                count--;
            }
        }
    }

    [Fact]
    public async Task Serve_AgentsStopMidLine_EachAnsweredLineTimeoutAndClosedNothingStoredOneWarning()
    {
        var clock = new SignallingClock();
        var logs = new CapturedLogs();
        await using var host = await TestHost.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock).AddSingleton<ILoggerProvider>(logs));
        var half = """{"op":"submit","draft":{"id":"reply:half","kind":"reply","agent":"a","text":"nev""";
        var (_, firstStream, firstReader) = await RawAgentAsync(host);
        var (_, secondStream, secondReader) = await RawAgentAsync(host);
        using var first = firstReader;
        using var second = secondReader;
        await firstStream.WriteAsync(Encoding.UTF8.GetBytes(half));
        await secondStream.WriteAsync(Encoding.UTF8.GetBytes("{"));
        await LineDeadlinesArmedAsync(clock, TimeSpan.FromSeconds(30), count: 2);

        clock.Advance(TimeSpan.FromSeconds(30));

        var answer = PipeClient.ParseResponse((await ReadLineAsync(first))!);
        Assert.False(answer.Ok);
        Assert.Equal(ErrorCodes.LineTimeout, answer.Error!.Code);
        Assert.Null(answer.Error.Field);
        Assert.Equal($"the request line did not end within 30 s (Pipe:LineTimeout): {Encoding.UTF8.GetByteCount(half)} bytes of it came but no \\n; " +
            "nothing of it was carried out and the connection is closed: connect again and send the whole request, ended by \\n", answer.Error.Message);
        Assert.Null(await ReadLineAsync(first));
        Assert.Equal(ErrorCodes.LineTimeout, PipeClient.ParseResponse((await ReadLineAsync(second))!).Error!.Code);
        // The rest of the line, sent late, is not carried out either.
        try
        {
            await firstStream.WriteAsync(Encoding.UTF8.GetBytes("er\"}}\n"));
        }
        catch (IOException)
        {
        }
        await using var client = await host.ConnectAsync();
        Assert.True((await client.PingAsync()).Ok);
        Assert.Null(host.Store.Get("reply:half"));
        // Once a minute at most, like the slot warnings: the second is counted for the next one.
        var warning = Assert.Single(logs.Entries, e => e.EventId.Name == "PipeLineTimedOut");
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Equal(30.0, warning.Properties["LineTimeoutSeconds"]);
        Assert.Contains(warning.Properties["ReceivedBytes"], new object?[] { 1, Encoding.UTF8.GetByteCount(half) });
        Assert.Equal(0, warning.Properties["Suppressed"]);
    }

    /// <summary>
    /// An agent that paused mid-line past the timeout and then goes on writing (a slow producer; one that writes its whole
    /// request before it reads, as the README's Python client does). The service used to close right after its answer with
    /// the agent's bytes unread: the agent's write then failed (EPIPE) and it never read the answer, and a read after the
    /// answer met a reset. Now the rest of the line is read and dropped first, and the answer is followed by the end.
    /// </summary>
    [Fact]
    public async Task Serve_AgentGoesOnWritingTheLineAfterItTimedOut_ItsWriteCompletesThenItReadsLineTimeoutAndTheEnd()
    {
        var clock = new SignallingClock();
        await using var host = await TestHost.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        var (socket, stream, agentReader) = await RawAgentAsync(host);
        using var agent = agentReader;
        await stream.WriteAsync(Encoding.UTF8.GetBytes("""{"op":"submit","draft":{"id":"reply:late","kind":"reply","agent":"a","text":"slow"""));
        await LineDeadlinesArmedAsync(clock, TimeSpan.FromSeconds(30));

        clock.Advance(TimeSpan.FromSeconds(30));
        // The answer has come (unread: this agent reads once it has written its request).
        Assert.True(socket.Poll(Served, SelectMode.SelectRead));
        // Far more than a socket holds unread: the write completes only if the service reads it.
        var rest = Encoding.UTF8.GetBytes(new string('x', 900_000) + "\"}}\n");
        var writing = stream.WriteAsync(rest).AsTask();

        await writing.WaitAsync(Served);
        var answer = PipeClient.ParseResponse((await ReadLineAsync(agent))!);
        Assert.Equal(ErrorCodes.LineTimeout, answer.Error!.Code);
        Assert.Null(await ReadLineAsync(agent));
        Assert.Null(host.Store.Get("reply:late"));
    }

    [Fact]
    public async Task Serve_EverySlotHeldByAnAgentStuckMidLine_WaitingAgentServedOnceTheLineTimesOut()
    {
        var clock = new SignallingClock();
        await using var host = await TestHost.StartAsync(["ApprovalBot:Pipe:MaxConnections=1", "ApprovalBot:Pipe:LineTimeout=00:00:05"],
            services: s => s.AddSingleton<TimeProvider>(clock));
        var (_, stuckStream, stuckReader) = await RawAgentAsync(host);
        using var stuck = stuckReader;
        await stuckStream.WriteAsync(Encoding.UTF8.GetBytes("""{"op":"ping"""));
        await LineDeadlinesArmedAsync(clock, TimeSpan.FromSeconds(5));
        await using var newcomer = await host.ConnectAsync();
        newcomer.ResponseTimeout = Served;
        var pinging = newcomer.PingAsync();

        clock.Advance(TimeSpan.FromSeconds(5));

        Assert.True((await pinging).Ok);
        var answer = PipeClient.ParseResponse((await ReadLineAsync(stuck))!);
        Assert.Equal(ErrorCodes.LineTimeout, answer.Error!.Code);
        Assert.StartsWith("the request line did not end within 5 s (Pipe:LineTimeout): 11 bytes", answer.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_AgentIdleBetweenRequestsFarLongerThanTheLineTimeout_KeepsItsConnection()
    {
        var clock = new SignallingClock();
        await using var host = await TestHost.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        await using var agent = await host.ConnectAsync();
        Assert.True((await agent.PingAsync()).Ok);

        clock.Advance(TimeSpan.FromHours(2));

        Assert.True((await agent.SubmitAsync(Draft("reply:after-a-pause"))).Ok);
        Assert.NotNull(host.Store.Get("reply:after-a-pause"));
    }

    [Fact]
    public async Task Serve_BigSubmitTrickledWithinTheLineTimeout_StoredWhole()
    {
        var clock = new SignallingClock();
        await using var host = await TestHost.StartAsync(["ApprovalBot:Kinds:reply:MaxLength=200000", "ApprovalBot:Pipe:MaxLineBytes=4194304"],
            services: s => s.AddSingleton<TimeProvider>(clock));
        var (_, stream, agent) = await RawAgentAsync(host);
        using var reader = agent;
        var text = string.Concat(Enumerable.Repeat("Trickled, steadily. ", 10_000));
        var line = Encoding.UTF8.GetBytes($$$"""{"op":"submit","draft":{"id":"reply:trickled","kind":"reply","agent":"a","text":"{{{text}}}"}}""" + "\n");

        // 100 pieces, 0.29 s of the clock apart: 28.71 s for the whole line, within its 30 s.
        var piece = (line.Length + 99) / 100;
        for (var offset = 0; offset < line.Length; offset += piece)
        {
            await stream.WriteAsync(line.AsMemory(offset, Math.Min(piece, line.Length - offset)));
            clock.Advance(TimeSpan.FromSeconds(0.29));
        }

        var answer = PipeClient.ParseResponse((await ReadLineAsync(reader))!);
        Assert.True(answer.Ok, answer.Error?.Message);
        Assert.Equal(text, host.Store.Get("reply:trickled")!.Text);
    }
}
