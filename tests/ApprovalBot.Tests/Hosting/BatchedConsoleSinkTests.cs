using System.Text;
using ApprovalBot.Hosting;
using Serilog.Events;
using Serilog.Formatting.Display;
using Serilog.Parsing;

namespace ApprovalBot.Tests.Hosting;

public sealed class BatchedConsoleSinkTests
{
    /// <summary>stdout as the reader of the pipe sees it: each write is a wake-up.</summary>
    private sealed class CountingStream : MemoryStream
    {
        public int Writes { get; private set; }

        public override void Write(byte[] buffer, int offset, int count)
        {
            Writes++;
            base.Write(buffer, offset, count);
        }

        // MemoryStream's own span overload would call the array overload: one write, counted once.
        public override void Write(ReadOnlySpan<byte> buffer) => Write(buffer.ToArray(), 0, buffer.Length);
    }

    private const string Template = "[{Timestamp:HH:mm:ss} {Level:u3}] {SourceContext}: {Message:lj}{NewLine}{Exception}";

    private static LogEvent Stored(int n) => new(
        new DateTimeOffset(2026, 11, 22, 19, 30, 5, TimeSpan.Zero), LogEventLevel.Information, null,
        new MessageTemplateParser().Parse("Stored {DraftId} seq {Seq}"),
        [
            new LogEventProperty("SourceContext", new ScalarValue("ApprovalBot.Pipe.Operations.SubmitOperation")),
            new LogEventProperty("DraftId", new ScalarValue($"d-{n}")),
            new LogEventProperty("Seq", new ScalarValue(n)),
        ]);

    [Fact]
    public void Emit_ABatchOfLines_WrittenInOneWriteAtFlush()
    {
        using var stdout = new CountingStream();
        using var sink = new BatchedConsoleSink(new MessageTemplateTextFormatter(Template), stdout);

        for (var n = 1; n <= 200; n++)
        {
            sink.Emit(Stored(n));
        }
        var writesBeforeFlush = stdout.Writes;
        sink.Flush();

        Assert.Equal(0, writesBeforeFlush);
        Assert.Equal(1, stdout.Writes);
        var lines = Encoding.UTF8.GetString(stdout.ToArray()).Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(200, lines.Length);
        Assert.Equal("[19:30:05 INF] ApprovalBot.Pipe.Operations.SubmitOperation: Stored d-1 seq 1", lines[0]);
        Assert.EndsWith("Stored d-200 seq 200", lines[^1], StringComparison.Ordinal);
    }

    [Fact]
    public void Dispose_LinesNotYetFlushed_Written()
    {
        using var stdout = new CountingStream();
        var sink = new BatchedConsoleSink(new MessageTemplateTextFormatter(Template), stdout);
        sink.Emit(Stored(1));

        sink.Dispose();

        Assert.EndsWith("Stored d-1 seq 1" + Environment.NewLine, Encoding.UTF8.GetString(stdout.ToArray()), StringComparison.Ordinal);
    }

    [Fact]
    public void Flush_ReaderOfStdoutGone_ThrowsAndLaterLinesStillFormatted()
    {
        // BackgroundLogSink reports the failure to Serilog's SelfLog and goes on; the sink must not grow meanwhile.
        var sink = new BatchedConsoleSink(new MessageTemplateTextFormatter(Template), new BrokenStream());
        sink.Emit(Stored(1));

        Assert.Throws<IOException>(sink.Flush);
        sink.Emit(Stored(2));
        Assert.Throws<IOException>(sink.Flush);
        sink.Dispose();
    }

    private sealed class BrokenStream : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => throw new IOException("Broken pipe");
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new IOException("Broken pipe");
    }
}
