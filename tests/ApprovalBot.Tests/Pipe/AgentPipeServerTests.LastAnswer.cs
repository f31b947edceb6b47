using System.Net.Sockets;
using System.Text;
using ApprovalBot.Client;
using ApprovalBot.Tests.Infrastructure;
using ApprovalBot.Tests.Telegram;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalBot.Tests.Pipe;

/// <summary>
/// Every answer after which the service closes the connection (too_large, line_timeout, closed, the stop) is followed by a
/// clean end of input, also when the agent had sent more than the service read: a Unix socket closed with bytes unread
/// resets the connection, and the agent's read after the answer failed with ECONNRESET (`nc` prints "Connection reset by
/// peer" and exits 1, a client reading to the end throws).
/// </summary>
public sealed partial class AgentPipeServerTests
{
    /// <summary>Submits, one a line: more than the service reads at once (16 KiB), so most of them wait in the socket unread.</summary>
    private static string PipelinedSubmits(string prefix, int count = 1000) => string.Concat(Enumerable.Range(0, count).Select(i =>
        $$$"""{"op":"submit","draft":{"id":"reply:{{{prefix}}}:{{{i}}}","kind":"reply","agent":"a","text":"pipelined behind a refused line"}}""" + "\n"));

    /// <summary>The lines the agent reads until the end of input; a reset instead of the end fails the test, naming what came before it.</summary>
    private static async Task<List<string>> ReadToTheEndAsync(StreamReader reader)
    {
        var lines = new List<string>();
        try
        {
            while (await ReadLineAsync(reader) is { } line)
            {
                lines.Add(line);
            }
        }
        catch (IOException ex)
        {
            Assert.Fail($"the connection was reset after {lines.Count} line(s) ({string.Join(" | ", lines.Select(l => l.Length > 120 ? l[..120] + "…" : l))}), not ended: {ex.Message}");
        }
        return lines;
    }

    /// <summary>
    /// Returns once the service has ended the connection both ways (POLLHUP, which poll reports whatever it is asked; or
    /// POLLERR, a reset), so that a read after it sees what the close left, not the end of the service's sending alone.
    /// </summary>
    private static Task ServiceHungUpAsync(Socket socket) =>
        Task.Run(() => socket.Poll(Served, SelectMode.SelectError));

    private static void AssertNoneStored(TestHost host, string prefix) =>
        Assert.DoesNotContain(host.Store.List(null, null, 1000), d => d.Id.StartsWith($"reply:{prefix}:", StringComparison.Ordinal));

    [Fact]
    public async Task Serve_LineOverLimitWithRequestsPipelinedBehindIt_AgentReadsTooLargeThenTheEndNotAReset()
    {
        await using var host = await TestHost.StartAsync(["ApprovalBot:Pipe:MaxLineBytes=4096"]);
        var (socket, stream, agentReader) = await RawAgentAsync(host);
        using var agent = agentReader;
        var huge = """{"op":"ping","pad":" """ + new string('x', 5000) + "\"}\n";

        // One write, as a client that pipelines writes its queue; the service reads the refused line and stops there.
        await stream.WriteAsync(Encoding.UTF8.GetBytes(huge + PipelinedSubmits("behind-too-large")));
        await ServiceHungUpAsync(socket);

        var lines = await ReadToTheEndAsync(agent);
        Assert.Equal(ErrorCodes.TooLarge, PipeClient.ParseResponse(Assert.Single(lines)).Error!.Code);
        AssertNoneStored(host, "behind-too-large");
        await using var client = await host.ConnectAsync();
        Assert.True((await client.PingAsync()).Ok);
    }

    /// <summary>
    /// The service stopped receiving at the refused line's newline, with the agent's write of the requests behind it still
    /// under way (more than a socket holds, or a socket full of the line's earlier chunks under load): the rest of that
    /// write failed with EPIPE (broken pipe), although the agent had written the refused line whole.
    /// </summary>
    [Fact]
    public async Task Serve_LineOverLimitThenMoreRequestsThanTheSocketHolds_AgentFinishesItsWriteThenReadsTooLargeThenTheEnd()
    {
        await using var host = await TestHost.StartAsync(["ApprovalBot:Pipe:MaxLineBytes=4096"]);
        var (socket, stream, agentReader) = await RawAgentAsync(host);
        using var agent = agentReader;
        var huge = """{"op":"ping","pad":" """ + new string('x', 5000) + "\"}\n";

        // About 1 MiB in one write, several times what a Unix socket buffers.
        await stream.WriteAsync(Encoding.UTF8.GetBytes(huge + PipelinedSubmits("behind-too-large-big", count: 8000)));
        await ServiceHungUpAsync(socket);

        var lines = await ReadToTheEndAsync(agent);
        Assert.Equal(ErrorCodes.TooLarge, PipeClient.ParseResponse(Assert.Single(lines)).Error!.Code);
        AssertNoneStored(host, "behind-too-large-big");
    }

    /// <summary>
    /// The line is answered while the agent is still writing it, and its rest is read and dropped, however the agent paces
    /// its writes of it. Its end and the requests behind it come in one write of 2 KB, which a Unix socket takes whole or not
    /// at all (one buffer): once the service has read the newline, nothing of the agent's is still under way. With 1000
    /// requests behind it (120 KB, taken a part at a time as the service reads), the rest of that write had to be sent within
    /// the 1 s the service waits for more behind a refused line; on a starved machine the test's sending was sometimes held
    /// up longer, and the service, taking the agent for stalled, ended its receiving: "Broken pipe" on the test's own write
    /// (by design for an agent that stalls; a write behind the line that the socket cannot take at once is the test above's).
    /// </summary>
    [Fact]
    public async Task Serve_LineOverLimitStillBeingWrittenThenMoreRequests_AgentReadsTooLargeThenTheEndNotAReset()
    {
        await using var host = await TestHost.StartAsync(["ApprovalBot:Pipe:MaxLineBytes=4096"]);
        var (socket, stream, agentReader) = await RawAgentAsync(host);
        using var agent = agentReader;

        // The line in many writes (an agent streaming a text of megabytes), refused and answered after its first 4 KiB.
        await stream.WriteAsync("""{"op":"submit","draft":{"id":"reply:streamed","kind":"reply","agent":"a","text":" """u8.ToArray());
        var chunk = Encoding.UTF8.GetBytes(new string('x', 64 * 1024));
        for (var i = 0; i < 32; i++)
        {
            await stream.WriteAsync(chunk);
        }
        await stream.WriteAsync(Encoding.UTF8.GetBytes("\"}}\n" + PipelinedSubmits("behind-streamed", count: 16)));
        await ServiceHungUpAsync(socket);

        var lines = await ReadToTheEndAsync(agent);
        Assert.Equal(ErrorCodes.TooLarge, PipeClient.ParseResponse(Assert.Single(lines)).Error!.Code);
        Assert.Null(host.Store.Get("reply:streamed"));
        AssertNoneStored(host, "behind-streamed");
    }

    [Fact]
    public async Task Serve_LineTimedOutThenItsRestAndMoreRequestsPipelined_AgentReadsLineTimeoutThenTheEndNotAReset()
    {
        var clock = new SignallingClock();
        await using var host = await TestHost.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        var (socket, stream, agentReader) = await RawAgentAsync(host);
        using var agent = agentReader;
        await stream.WriteAsync("""{"op":"submit","draft":{"id":"reply:late","kind":"reply","agent":"a","text":"sl"""u8.ToArray());
        await LineDeadlinesArmedAsync(clock, TimeSpan.FromSeconds(30));
        clock.Advance(TimeSpan.FromSeconds(30));

        await stream.WriteAsync(Encoding.UTF8.GetBytes("ow\"}}\n" + PipelinedSubmits("behind-timeout")));
        await ServiceHungUpAsync(socket);

        var lines = await ReadToTheEndAsync(agent);
        Assert.Equal(ErrorCodes.LineTimeout, PipeClient.ParseResponse(Assert.Single(lines)).Error!.Code);
        Assert.Null(host.Store.Get("reply:late"));
        AssertNoneStored(host, "behind-timeout");
    }

    [Fact]
    public async Task Stop_WaitAnsweredWithRequestsPipelinedBehindIt_AgentReadsUnavailableThenTheEndNotAReset()
    {
        await using var host = await TestHost.StartAsync();
        string id;
        await using (var client = await host.ConnectAsync())
        {
            id = (await client.SubmitAsync(Draft("reply:waited-at-stop"))).Receipt!.Id;
        }
        var (_, stream, agentReader) = await RawAgentAsync(host);
        using var agent = agentReader;
        var registered = WaitingReaches(host, 1);
        await stream.WriteAsync(Encoding.UTF8.GetBytes($$"""{"op":"wait","id":"{{id}}","timeout_ms":600000}""" + "\n" + PipelinedSubmits("behind-wait")));
        await registered.WaitAsync(Served);

        await host.StopAsync().WaitAsync(Served);

        var lines = await ReadToTheEndAsync(agent);
        var answer = PipeClient.ParseResponse(Assert.Single(lines));
        Assert.Equal(ErrorCodes.Unavailable, answer.Error!.Code);
        Assert.Contains("shutting down", answer.Error.Message, StringComparison.Ordinal);
        AssertNoneStored(host, "behind-wait");
    }

    [Fact]
    public async Task Stop_IdleConnectionThatSentBytesAsTheServiceStopped_AgentReadsTheEndNotAReset()
    {
        await using var host = await TestHost.StartAsync();
        var (socket, stream, agentReader) = await RawAgentAsync(host);
        using var agent = agentReader;
        await stream.WriteAsync("{\"op\":\"ping\"}\n"u8.ToArray());
        Assert.True(PipeClient.ParseResponse((await ReadLineAsync(agent))!).Ok);

        var stopping = host.StopAsync();
        // Racing the stop: read or not before the close, these bytes must not turn the close into a reset.
        try
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(PipelinedSubmits("at-stop")));
        }
        catch (IOException)
        {
            // Closed already: the write fails, and nothing was unread at the close.
        }
        await stopping.WaitAsync(Served);

        Assert.Empty(await ReadToTheEndAsync(agent));
        AssertNoneStored(host, "at-stop");
        GC.KeepAlive(socket);
    }

    /// <summary>
    /// An idle agent closed for a newcomer, writing a request as it happens: its bytes, if they came after the service chose
    /// to close it and before the close, were left unread, and its read after the closed line met a reset. Many rounds,
    /// since which side is first is up to the scheduler; whichever it is, the agent reads its answers and then the end.
    /// </summary>
    [Fact]
    public async Task Serve_IdleAgentWritesAsItIsClosedForANewcomer_ReadsItsAnswersThenTheEndNeverAReset()
    {
        await using var host = await TestHost.StartAsync(["ApprovalBot:Pipe:MaxConnections=1"]);
        // More than the service reads at once, so that most of it is still in the socket when the service closes; and cheap
        // to answer (unknown field) when it comes first and is served.
        var request = Encoding.UTF8.GetBytes("""{"op":"ping","pad":" """ + new string('x', 64 * 1024) + "\"}\n");
        for (var round = 0; round < 40; round++)
        {
            var (socket, stream, agentReader) = await RawAgentAsync(host);
            using var agent = agentReader;
            await stream.WriteAsync("{\"op\":\"ping\"}\n"u8.ToArray());
            Assert.True(PipeClient.ParseResponse((await ReadLineAsync(agent))!).Ok);

            await using var newcomer = await host.ConnectAsync();
            try
            {
                await stream.WriteAsync(request);
            }
            catch (IOException)
            {
                // Closed before the write: nothing of it came.
            }

            var lines = await ReadToTheEndAsync(agent);
            Assert.True(PipeClient.ParseResponse(lines[^1]).Closed, lines[^1]);
            newcomer.ResponseTimeout = Served;
            Assert.True((await newcomer.PingAsync()).Ok);
            GC.KeepAlive(socket);
        }
    }
}
