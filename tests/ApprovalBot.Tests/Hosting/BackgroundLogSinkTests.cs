using System.Collections.Concurrent;
using ApprovalBot.Hosting;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Parsing;

namespace ApprovalBot.Tests.Hosting;

public sealed class BackgroundLogSinkTests
{
    private sealed class Collector(int expected = int.MaxValue) : ILogEventSink
    {
        public ConcurrentQueue<(int Thread, int N)> Written { get; } = new();

        public TaskCompletionSource AllWritten { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Emit(LogEvent logEvent)
        {
            Written.Enqueue(((int)((ScalarValue)logEvent.Properties["T"]).Value!, (int)((ScalarValue)logEvent.Properties["N"]).Value!));
            if (Written.Count == expected)
            {
                AllWritten.TrySetResult();
            }
        }
    }

    private static LogEvent Event(int thread, int n) => new(
        DateTimeOffset.UtcNow, LogEventLevel.Information, null, new MessageTemplateParser().Parse("{T} {N}"),
        [new LogEventProperty("T", new ScalarValue(thread)), new LogEventProperty("N", new ScalarValue(n))]);

    [Fact]
    public async Task Emit_ManyEventsFromManyThreads_EveryOneWrittenInEachThreadsOrder()
    {
        const int threads = 4, perThread = 6_000;
        var collector = new Collector();
        var sink = new BackgroundLogSink(new LoggerConfiguration().WriteTo.Sink(collector).CreateLogger());

        await Task.WhenAll(Enumerable.Range(0, threads).Select(t => Task.Run(() =>
        {
            for (var n = 0; n < perThread; n++)
            {
                sink.Emit(Event(t, n));
            }
        })));
        sink.Dispose();

        Assert.Equal(threads * perThread, collector.Written.Count);
        foreach (var group in collector.Written.GroupBy(w => w.Thread))
        {
            Assert.Equal(Enumerable.Range(0, perThread), group.Select(w => w.N));
        }
    }

    [Fact]
    public void Emit_AfterTheWriterFinished_WrittenInOrderNotLost()
    {
        var collector = new Collector();
        var sink = new BackgroundLogSink(new LoggerConfiguration().WriteTo.Sink(collector).CreateLogger());
        sink.Emit(Event(0, 0));
        sink.Dispose();

        sink.Emit(Event(0, 1));

        Assert.Equal([(0, 0), (0, 1)], collector.Written);
    }

    [Fact]
    public async Task Emit_EventsAndNoDispose_WrittenAfterTheLingerWithoutFurtherEvents()
    {
        var collector = new Collector(expected: 3);
        using var sink = new BackgroundLogSink(new LoggerConfiguration().WriteTo.Sink(collector).CreateLogger(), TimeSpan.FromMilliseconds(20));

        for (var n = 0; n < 3; n++)
        {
            sink.Emit(Event(0, n));
        }

        await collector.AllWritten.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal([(0, 0), (0, 1), (0, 2)], collector.Written);
    }

    [Fact]
    public void Emit_StreamOfEvents_WrittenInFarFewerWakeUpsThanEvents()
    {
        // A linger far longer than emitting takes: the writer wakes for the first event and then takes the rest
        // in one go, instead of waking for every event.
        var collector = new Collector();
        var sink = new BackgroundLogSink(new LoggerConfiguration().WriteTo.Sink(collector).CreateLogger(), TimeSpan.FromSeconds(30));
        for (var n = 0; n < 1_000; n++)
        {
            sink.Emit(Event(0, n));
        }

        sink.Dispose();

        Assert.Equal(1_000, collector.Written.Count);
        Assert.Equal(1, sink.Batches);
    }

    [Fact]
    public void Emit_StreamOfEvents_AfterBatchRunsOnceAfterTheBatchIsWritten()
    {
        var collector = new Collector();
        var writtenAtAfterBatch = new List<int>();
        var sink = new BackgroundLogSink(new LoggerConfiguration().WriteTo.Sink(collector).CreateLogger(), TimeSpan.FromSeconds(30),
            () => writtenAtAfterBatch.Add(collector.Written.Count));
        for (var n = 0; n < 1_000; n++)
        {
            sink.Emit(Event(0, n));
        }

        sink.Dispose();

        Assert.Equal([1_000], writtenAtAfterBatch);
    }

    [Fact]
    public void Emit_AfterTheWriterFinished_AfterBatchRunsForEachLateEvent()
    {
        var collector = new Collector();
        var writtenAtAfterBatch = new List<int>();
        var sink = new BackgroundLogSink(new LoggerConfiguration().WriteTo.Sink(collector).CreateLogger(), TimeSpan.FromSeconds(30),
            () => writtenAtAfterBatch.Add(collector.Written.Count));
        sink.Emit(Event(0, 0));
        sink.Dispose();

        sink.Emit(Event(0, 1));
        sink.Emit(Event(0, 2));

        Assert.Equal([1, 2, 3], writtenAtAfterBatch);
    }

    [Fact]
    public async Task Emit_AfterBatchThrows_LaterEventsStillWritten()
    {
        // A console whose reader went away fails every flush; the JSON file beside it must go on being written.
        var collector = new Collector(expected: 2);
        var calls = 0;
        var sink = new BackgroundLogSink(new LoggerConfiguration().WriteTo.Sink(collector).CreateLogger(), TimeSpan.FromMilliseconds(1),
            () =>
            {
                Interlocked.Increment(ref calls);
                throw new IOException("Broken pipe");
            });
        sink.Emit(Event(0, 0));
        while (Volatile.Read(ref calls) == 0)
        {
            await Task.Yield();
        }

        sink.Emit(Event(0, 1));

        await collector.AllWritten.Task.WaitAsync(TimeSpan.FromSeconds(30));
        sink.Dispose();
        Assert.Equal([(0, 0), (0, 1)], collector.Written);
    }
}
