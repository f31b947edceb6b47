using System.Text;
using ApprovalBot.Pipe;

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
}
