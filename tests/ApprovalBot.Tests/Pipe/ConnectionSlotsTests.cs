using System.IO.Pipes;
using System.Net.Sockets;
using ApprovalBot.Pipe;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ApprovalBot.Tests.Pipe;

/// <summary>
/// The slots on their own, with real connected sockets: which connection a newcomer may close, and that a newcomer's
/// claim never outlives it. The moments these pin down are too brief to meet reliably through the whole server.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class ConnectionSlotsTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);
    private readonly TempDirectory _dir = new();
    private readonly List<IDisposable> _owned = [];
    private readonly ManualTimeProvider _time = new();

    public void Dispose()
    {
        _owned.ForEach(d => d.Dispose());
        _dir.Dispose();
    }

    /// <summary>A served connection's stream, its agent's socket, and the connection as the slots see it.</summary>
    private async Task<(PipeConnection Connection, NamedPipeServerStream Stream, Socket Agent)> ConnectAsync()
    {
        var path = _dir.Combine(Guid.NewGuid().ToString("N")[..8]);
        var stream = new NamedPipeServerStream(path, PipeDirection.InOut, 1, PipeTransmissionMode.Byte, PipeOptions.Asynchronous);
        var agent = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _owned.Add(stream);
        _owned.Add(agent);
        var accepting = stream.WaitForConnectionAsync();
        await agent.ConnectAsync(new UnixDomainSocketEndPoint(path));
        await accepting.WaitAsync(Limit);
        return (new PipeConnection(stream, _time), stream, agent);
    }

    /// <summary>Admitted, one request served and idle again: what a persistent agent's connection is between requests.</summary>
    private async Task<(PipeConnection Connection, NamedPipeServerStream Stream, Socket Agent)> IdleAfterARequestAsync(ConnectionSlots slots)
    {
        var served = await ConnectAsync();
        await slots.AdmitAsync(served.Connection, CancellationToken.None).WaitAsync(Limit);
        served.Connection.EnterIdle();
        Assert.True(served.Connection.TryBecomeBusy());
        served.Connection.EnterIdle();
        return served;
    }

    [Fact]
    public async Task AdmitAsync_EveryoneIdleAfterARequest_TheLongestIdleIsClosedAndItsSlotGoesToTheNewcomer()
    {
        var slots = new ConnectionSlots(1, _time, NullLogger.Instance);
        var idle = await IdleAfterARequestAsync(slots);
        var newcomer = await ConnectAsync();

        var admitting = slots.AdmitAsync(newcomer.Connection, CancellationToken.None);

        Assert.True(idle.Connection.IsClosed);
        Assert.True(idle.Connection.ClosedToken.IsCancellationRequested);
        Assert.False(admitting.IsCompleted);
        slots.Release(idle.Connection);
        await admitting.WaitAsync(Limit);
    }

    [Fact]
    public async Task AdmitAsync_IdleConnectionWhoseAgentHasWrittenBytesNotReadYet_NotClosedForTheNewcomer()
    {
        var slots = new ConnectionSlots(1, _time, NullLogger.Instance);
        var idle = await IdleAfterARequestAsync(slots);
        // The next request is in the socket, not yet in the reader's buffer (nothing reads here): the connection still
        // counts as idle, but is about to become busy.
        await idle.Agent.SendAsync("""{"op":"ping"}"""u8.ToArray().Append((byte)'\n').ToArray());
        Assert.True(idle.Connection.IsIdle);
        var newcomer = await ConnectAsync();

        var admitting = slots.AdmitAsync(newcomer.Connection, CancellationToken.None);

        Assert.False(idle.Connection.IsClosed);
        Assert.False(idle.Connection.ClosedToken.IsCancellationRequested);
        Assert.True(idle.Connection.TryBecomeBusy());
        Assert.False(admitting.IsCompleted);
        // Its request read and served, going idle again with nothing unread, it makes room for the newcomer still waiting.
        Assert.True(await idle.Stream.ReadAsync(new byte[64]) > 0);
        idle.Connection.EnterIdle();
        Assert.True(idle.Connection.IsClosed);
        slots.Release(idle.Connection);
        await admitting.WaitAsync(Limit);
    }

    [Fact]
    public async Task AdmitAsync_TheOnlyIdleConnectionsStreamIsAlreadyClosed_NewcomerWaitsForTheSlotInsteadOfFailing()
    {
        var slots = new ConnectionSlots(1, _time, NullLogger.Instance);
        var ending = await IdleAfterARequestAsync(slots);
        // Its agent hung up and the server closed the stream; the slot is not given back yet.
        await ending.Stream.DisposeAsync();
        var newcomer = await ConnectAsync();

        var admitting = slots.AdmitAsync(newcomer.Connection, CancellationToken.None);

        Assert.False(admitting.IsFaulted, admitting.Exception?.ToString());
        Assert.False(admitting.IsCompleted);
        slots.Release(ending.Connection);
        await admitting.WaitAsync(Limit);
        // The newcomer's claim was not left behind: its slot comes back with it.
        slots.Release(newcomer.Connection);
        await slots.AdmitAsync((await ConnectAsync()).Connection, CancellationToken.None).WaitAsync(Limit);
    }

    [Fact]
    public async Task Release_ConnectionEndedWhileIdle_NeverClosedForANewcomerAfterwards()
    {
        var slots = new ConnectionSlots(2, _time, NullLogger.Instance);
        var ended = await IdleAfterARequestAsync(slots);
        var other = await IdleAfterARequestAsync(slots);
        slots.Release(ended.Connection);

        Assert.False(ended.Connection.IsIdle);
        await slots.AdmitAsync((await ConnectAsync()).Connection, CancellationToken.None).WaitAsync(Limit);
        var admitting = slots.AdmitAsync((await ConnectAsync()).Connection, CancellationToken.None);

        Assert.False(ended.Connection.IsClosed);
        Assert.True(other.Connection.IsClosed);
        slots.Release(other.Connection);
        await admitting.WaitAsync(Limit);
    }

    [Fact]
    public async Task AdmitAsync_FailsAfterTheNewcomerWasQueued_NoClaimOnASlotLeftBehind()
    {
        // Every slot busy: the newcomer is queued, then the warning it logs throws.
        var slots = new ConnectionSlots(1, _time, new ThrowingLogger());
        var busy = await ConnectAsync();
        await slots.AdmitAsync(busy.Connection, CancellationToken.None).WaitAsync(Limit);
        var failing = await ConnectAsync();

        await Assert.ThrowsAsync<InvalidOperationException>(() => slots.AdmitAsync(failing.Connection, CancellationToken.None).WaitAsync(Limit));
        slots.Release(busy.Connection);

        // The freed slot went to nobody that is gone: the next agent gets it at once.
        await slots.AdmitAsync((await ConnectAsync()).Connection, CancellationToken.None).WaitAsync(Limit);
    }

    [Fact]
    public async Task AdmitAsync_NewConnectionYetToSendARequest_NotClosedUntilItsGraceIsOver()
    {
        var slots = new ConnectionSlots(1, _time, NullLogger.Instance);
        var silent = await ConnectAsync();
        await slots.AdmitAsync(silent.Connection, CancellationToken.None).WaitAsync(Limit);
        silent.Connection.EnterIdle();
        var newcomer = await ConnectAsync();

        var admitting = slots.AdmitAsync(newcomer.Connection, CancellationToken.None);
        Assert.False(silent.Connection.IsClosed);
        _time.Advance(ConnectionSlots.FirstRequestGrace - TimeSpan.FromMilliseconds(1));
        Assert.False(silent.Connection.IsClosed);

        // One that never writes holds the slot no longer than that.
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(silent.Connection.IsClosed);
        Assert.True(silent.Connection.ClosedToken.IsCancellationRequested);
        Assert.False(admitting.IsCompleted);
        slots.Release(silent.Connection);
        await admitting.WaitAsync(Limit);
    }

    [Fact]
    public async Task AdmitAsync_NewConnectionThatSentItsFirstRequest_MayBeClosedOnceIdleWithinTheGrace()
    {
        var slots = new ConnectionSlots(1, _time, NullLogger.Instance);
        var quick = await IdleAfterARequestAsync(slots);

        var admitting = slots.AdmitAsync((await ConnectAsync()).Connection, CancellationToken.None);

        Assert.True(quick.Connection.IsClosed);
        slots.Release(quick.Connection);
        await admitting.WaitAsync(Limit);
    }

    [Fact]
    public async Task AdmitAsync_ASlotAlreadyOnItsWayToEveryAgentWaiting_ClosesNoFurtherConnection()
    {
        var slots = new ConnectionSlots(2, _time, NullLogger.Instance);
        var first = await IdleAfterARequestAsync(slots);
        var second = await IdleAfterARequestAsync(slots);
        using var gaveUp = new CancellationTokenSource();
        // A newcomer closes the first, then goes away before its slot comes: that slot is on its way to nobody yet.
        var leaving = slots.AdmitAsync((await ConnectAsync()).Connection, gaveUp.Token);
        Assert.True(first.Connection.IsClosed);
        await gaveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leaving);

        var admitting = slots.AdmitAsync((await ConnectAsync()).Connection, CancellationToken.None);

        Assert.False(second.Connection.IsClosed);
        slots.Release(first.Connection);
        await admitting.WaitAsync(Limit);
        Assert.False(second.Connection.IsClosed);
    }

    /// <summary>A logger whose every write throws: a failure after the newcomer was queued.</summary>
    private sealed class ThrowingLogger : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            throw new InvalidOperationException("the log is broken");
    }
}
