using System.IO.Pipelines;
using System.Text;
using ApprovalBot.Pipe;
using ApprovalBot.Tests.Telegram;

namespace ApprovalBot.Tests.Pipe;

public sealed class LineReaderTests
{
    private static LineReader Reader(string input, int maxLineBytes) => new(new MemoryStream(Encoding.UTF8.GetBytes(input)), maxLineBytes);

    private static string Text(ReadOnlyMemory<byte> line) => Encoding.UTF8.GetString(line.Span);

    /// <summary>
    /// Refused before its newline was read (far over the limit: skipped to it without buffering it), or with its newline
    /// already read (one byte over a limit above the first read's 16 KB: the second read brings the line's end): either
    /// way the next line is read whole and nothing of it is skipped.
    /// </summary>
    [Theory]
    [InlineData(1_000_000, 1024)]
    [InlineData(20_001, 20_000)]
    public async Task SkipRestOfRefusedLine_LineOverTheLimit_SkippedToItsNewlineAndNoFurther(int length, int maxLineBytes)
    {
        var reader = Reader(new string('x', length) + "\nnext\n", maxLineBytes);

        var (refused, _) = await reader.ReadAsync(CancellationToken.None);
        await reader.SkipRestOfRefusedLineAsync(CancellationToken.None);
        var (outcome, line) = await reader.ReadAsync(CancellationToken.None);

        Assert.Equal(LineReader.Outcome.TooLarge, refused);
        Assert.Equal(LineReader.Outcome.Line, outcome);
        Assert.Equal("next", Text(line));
    }

    [Fact]
    public async Task SkipRestOfRefusedLine_StreamEndsInsideTheLine_ReturnsAtTheEnd()
    {
        var reader = Reader(new string('x', 5_000), maxLineBytes: 1024);

        Assert.Equal(LineReader.Outcome.TooLarge, (await reader.ReadAsync(CancellationToken.None)).Outcome);
        await reader.SkipRestOfRefusedLineAsync(CancellationToken.None);

        Assert.Equal(LineReader.Outcome.EndOfStream, (await reader.ReadAsync(CancellationToken.None)).Outcome);
    }

    [Fact]
    public async Task SkipRestOfRefusedLine_NoLineRefused_SkipsNothing()
    {
        var reader = Reader("first\nsecond\n", maxLineBytes: 1024);

        await reader.ReadAsync(CancellationToken.None);
        await reader.SkipRestOfRefusedLineAsync(CancellationToken.None);

        Assert.Equal("second", Text((await reader.ReadAsync(CancellationToken.None)).Line));
    }

    [Fact]
    public async Task ReadAsync_AfterALongLine_BufferBackToItsFirstSize()
    {
        // An agent idle between drafts keeps its connection: a megabyte buffer kept per connection would add up.
        var reader = Reader(new string('x', 900_000) + "\nshort\n", maxLineBytes: 1024 * 1024);
        var first = reader.BufferSize;

        var (_, longLine) = await reader.ReadAsync(CancellationToken.None);
        var grown = reader.BufferSize;
        var (_, shortLine) = await reader.ReadAsync(CancellationToken.None);
        await reader.ReadAsync(CancellationToken.None);

        Assert.Equal(900_000, longLine.Length);
        Assert.True(grown > 900_000);
        Assert.Equal("short", Text(shortLine));
        Assert.Equal(first, reader.BufferSize);
    }

    [Theory]
    [InlineData("\n", 1024, true)]
    [InlineData("\r\n", 1024, true)]
    [InlineData("\r\n", 1025, false)]
    [InlineData("\n", 1025, false)]
    public async Task ReadAsync_LineOfTheLimitEndedByCrLf_ReadLikeOneEndedByLf(string end, int length, bool read)
    {
        // A client that ends its lines "\r\n" (as many line-oriented tools do) was refused one byte early.
        var reader = Reader(new string('x', length) + end + "next" + end, maxLineBytes: 1024);

        var (outcome, line) = await reader.ReadAsync(CancellationToken.None);

        Assert.Equal(read ? LineReader.Outcome.Line : LineReader.Outcome.TooLarge, outcome);
        if (read)
        {
            Assert.Equal(length, line.Length);
            Assert.Equal("next", Text((await reader.ReadAsync(CancellationToken.None)).Line));
        }
    }

    private static readonly TimeSpan LineTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Signalled = TimeSpan.FromSeconds(20);

    /// <summary>A reader over an in-memory pipe the test writes to piece by piece, with the line timeout on <paramref name="clock"/>.</summary>
    private static (LineReader Reader, PipeWriter Agent) Connected(SignallingClock clock)
    {
        var pipe = new System.IO.Pipelines.Pipe();
        return (new LineReader(pipe.Reader.AsStream(), 1024 * 1024, lineTimeout: LineTimeout, time: clock), pipe.Writer);
    }

    private static async Task SendAsync(PipeWriter agent, string text) => await agent.WriteAsync(Encoding.UTF8.GetBytes(text));

    [Fact]
    public async Task ReadAsync_PartOfALineAndNotItsEndWithinTheLineTimeout_TimedOutSayingHowMuchCame()
    {
        var clock = new SignallingClock();
        var (reader, agent) = Connected(clock);
        await SendAsync(agent, """{"op":"pi""");

        var reading = reader.ReadAsync(CancellationToken.None).AsTask();
        var due = await clock.NextTimerAsync(Signalled);
        clock.Advance(LineTimeout - TimeSpan.FromTicks(1));
        Assert.False(reading.IsCompleted);
        clock.Advance(TimeSpan.FromTicks(1));
        var (outcome, _) = await reading.WaitAsync(Signalled);

        Assert.Equal(clock.GetUtcNow(), due);
        Assert.Equal(LineReader.Outcome.TimedOut, outcome);
        Assert.Equal(9, reader.Buffered);
    }

    /// <summary>Reads a line that times out after <c>{"op":"pi</c>: the reader is then in the refused line.</summary>
    private static async Task<(LineReader Reader, PipeWriter Agent)> TimedOutAsync()
    {
        var clock = new SignallingClock();
        var (reader, agent) = Connected(clock);
        await SendAsync(agent, """{"op":"pi""");
        var reading = reader.ReadAsync(CancellationToken.None).AsTask();
        await clock.NextTimerAsync(Signalled);
        clock.Advance(LineTimeout);
        Assert.Equal(LineReader.Outcome.TimedOut, (await reading.WaitAsync(Signalled)).Outcome);
        return (reader, agent);
    }

    [Fact]
    public async Task SkipRestOfRefusedLine_AfterALineTimedOut_SkipsTheRestOfThatLineToItsNewline()
    {
        var (reader, agent) = await TimedOutAsync();

        var skipping = reader.SkipRestOfRefusedLineAsync(CancellationToken.None, quietFor: Signalled).AsTask();
        await SendAsync(agent, "ng\"," + new string(' ', 100_000) + "}\nnext\n").WaitAsync(Signalled);
        await skipping.WaitAsync(Signalled);
        var (outcome, line) = await reader.ReadAsync(CancellationToken.None);

        Assert.Equal(LineReader.Outcome.Line, outcome);
        Assert.Equal("next", Text(line));
    }

    [Fact]
    public async Task SkipRestOfRefusedLine_NothingMoreComesWithinTheQuietTime_ReturnsWithoutTheLinesEnd()
    {
        var (reader, _) = await TimedOutAsync();

        var skipping = reader.SkipRestOfRefusedLineAsync(CancellationToken.None, quietFor: TimeSpan.FromMilliseconds(50)).AsTask();

        await skipping.WaitAsync(Signalled);
    }

    [Fact]
    public async Task SkipRestOfRefusedLine_MoreThanMaxBytesWithoutANewline_StopsThere()
    {
        var (reader, agent) = await TimedOutAsync();
        await SendAsync(agent, new string('x', 3_000)).WaitAsync(Signalled);

        // 9 bytes before the timeout and 3,000 since: past 2,000 the rest is not waited for, however long the quiet time.
        await reader.SkipRestOfRefusedLineAsync(CancellationToken.None, quietFor: TimeSpan.FromDays(1), maxBytes: 2_000).AsTask().WaitAsync(Signalled);
    }

    [Fact]
    public async Task ReadAsync_NoByteOfALineYet_WaitsWithoutLimit()
    {
        // An agent idle between requests keeps its connection for as long as it likes.
        var clock = new SignallingClock();
        var (reader, agent) = Connected(clock);

        var reading = reader.ReadAsync(CancellationToken.None).AsTask();
        clock.Advance(TimeSpan.FromDays(1));
        await SendAsync(agent, "{\"op\":\"ping\"}\n");
        var (outcome, line) = await reading.WaitAsync(Signalled);

        Assert.Equal(LineReader.Outcome.Line, outcome);
        Assert.Equal("""{"op":"ping"}""", Text(line));
    }

    [Fact]
    public async Task ReadAsync_BigLineTrickledInPiecesWithinTheLineTimeout_ReadWhole()
    {
        var clock = new SignallingClock();
        var (reader, agent) = Connected(clock);
        var piece = new string('x', 10_000);

        var reading = reader.ReadAsync(CancellationToken.None).AsTask();
        for (var i = 0; i < 100; i++)
        {
            await SendAsync(agent, piece);
            // 99 pauses of 0.3 s: 29.7 s from the first piece to the last.
            clock.Advance(TimeSpan.FromSeconds(0.3));
        }
        await SendAsync(agent, "\n");
        var (outcome, line) = await reading.WaitAsync(Signalled);

        Assert.Equal(LineReader.Outcome.Line, outcome);
        Assert.Equal(1_000_000, line.Length);
    }

    [Fact]
    public async Task ReadAsync_LineStillComingWhenTheLineTimeoutRunsOut_TimedOutAllTheSame()
    {
        // The limit is on the line, not on each pause: a byte every 29 s would otherwise hold the connection for ever.
        var clock = new SignallingClock();
        var (reader, agent) = Connected(clock);
        await SendAsync(agent, "{");

        var reading = reader.ReadAsync(CancellationToken.None).AsTask();
        await clock.NextTimerAsync(Signalled);
        for (var i = 0; i < 3 && !reading.IsCompleted; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(10));
            await SendAsync(agent, "x");
        }
        var (outcome, _) = await reading.WaitAsync(Signalled);

        Assert.Equal(LineReader.Outcome.TimedOut, outcome);
    }

    [Fact]
    public async Task ReadAsync_PartOfALineCameBehindAnother_ItsTimeStartsWhenTheReaderComesBackForIt()
    {
        // The first request may be a wait of ten minutes: the line behind it is not overdue when that one is answered.
        var clock = new SignallingClock();
        var (reader, agent) = Connected(clock);
        await SendAsync(agent, "{\"op\":\"wait\"}\n{\"op\":");

        var (_, first) = await reader.ReadAsync(CancellationToken.None);
        Assert.Equal("""{"op":"wait"}""", Text(first));
        clock.Advance(TimeSpan.FromMinutes(10));
        var reading = reader.ReadAsync(CancellationToken.None).AsTask();
        await clock.NextTimerAsync(Signalled);
        clock.Advance(LineTimeout - TimeSpan.FromSeconds(1));
        await SendAsync(agent, "\"ping\"}\n");
        var (outcome, line) = await reading.WaitAsync(Signalled);

        Assert.Equal(LineReader.Outcome.Line, outcome);
        Assert.Equal("""{"op":"ping"}""", Text(line));
    }
}
