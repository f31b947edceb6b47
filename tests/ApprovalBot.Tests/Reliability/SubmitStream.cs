using System.Diagnostics;
using ApprovalBot.Client;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Reliability;

/// <summary>
/// Agents submitting <c>post</c> drafts to the host as fast as it answers, each on its own connection, until stopped;
/// every receipt is kept with when its submit was sent and when the receipt arrived (<see cref="Stopwatch"/> ticks).
/// </summary>
internal sealed class SubmitStream
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private static readonly string Filler = new('x', 800);

    private readonly List<Submitted> _submitted = [];
    private readonly List<(int Count, TaskCompletionSource Reached)> _waits = [];
    private readonly CancellationTokenSource _stop = new();
    private Task _agents = Task.CompletedTask;

    private SubmitStream()
    {
    }

    internal sealed record Submitted(Receipt Receipt, long SentAt, long ArrivedAt);

    public static SubmitStream Start(HostProcess host, int agents)
    {
        var stream = new SubmitStream();
        stream._agents = Task.WhenAll(Enumerable.Range(0, agents).Select(a => Task.Run(() => stream.AgentAsync(host, a))));
        return stream;
    }

    public int Count
    {
        get
        {
            lock (_submitted) return _submitted.Count;
        }
    }

    public IReadOnlyList<Submitted> All
    {
        get
        {
            lock (_submitted) return [.. _submitted];
        }
    }

    public Receipt[] Receipts() => [.. All.Select(s => s.Receipt)];

    /// <summary>Completes once <paramref name="count"/> receipts have arrived; fails if an agent failed first.</summary>
    public async Task ReceivedAsync(int count)
    {
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_submitted)
        {
            if (_submitted.Count >= count)
            {
                return;
            }
            _waits.Add((count, reached));
        }
        var first = await Task.WhenAny(reached.Task, _agents).WaitAsync(Wait);
        await first;
        Assert.True(reached.Task.IsCompleted, "the agents stopped before the receipts arrived");
    }

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await _agents;
    }

    private async Task AgentAsync(HostProcess host, int agent)
    {
        await using var client = await host.ConnectAsync();
        for (var i = 0; !_stop.IsCancellationRequested; i++)
        {
            var draft = new DraftSubmission { Id = $"post:stream:{agent}:{i}", Kind = "post", Agent = $"agent{agent}", Text = $"stream {agent} {i} {Filler}" };
            var sent = Stopwatch.GetTimestamp();
            var response = await client.SubmitAsync(draft);
            var arrived = Stopwatch.GetTimestamp();
            Assert.True(response.Ok, $"{draft.Id}: {response.Error?.Code} {response.Error?.Message}");
            lock (_submitted)
            {
                _submitted.Add(new Submitted(response.Receipt!, sent, arrived));
                foreach (var wait in _waits.Where(w => _submitted.Count >= w.Count).ToList())
                {
                    wait.Reached.TrySetResult();
                    _waits.Remove(wait);
                }
            }
        }
    }
}
