using ApprovalBot.Drafts;
using ApprovalBot.Tests.Infrastructure;
using ApprovalBot.Tests.Telegram;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalBot.Tests.Drafts;

public sealed class DraftWriterTests
{
    private static NewDraft Draft(string id) => new(id, "post", "a", $"text {id}", Sha.Hex($"text {id}"), null);

    [Fact]
    public async Task WriteAsync_ManyConcurrentSubmits_AcknowledgedByFarFewerCommits()
    {
        await using var host = await TestHost.StartAsync();
        var writer = host.Services.GetRequiredService<DraftWriter>();
        var before = writer.Commits;

        // From many threads at once, as many agents' connections arrive while a commit runs. The commit is held until
        // every submit is queued: left to the scheduler, a machine busy with other tests ran the threads one after
        // another (one commit per submit), which tested the machine's load rather than the writer.
        var submits = new System.Collections.Concurrent.ConcurrentBag<Task<SubmitOutcome>>();
        await using var held = HeldCommit.Start(host.Store);
        var agents = Enumerable.Range(0, 16).Select(t => new Thread(() =>
        {
            for (var i = 0; i < 25; i++)
            {
                submits.Add(host.Store.SubmitAsync(Draft($"post:g{t}:{i}")));
            }
        })).ToList();
        agents.ForEach(a => a.Start());
        await Task.Run(() => agents.ForEach(a => a.Join()));
        Assert.DoesNotContain(submits, s => s.IsCompleted);

        held.Release();
        await Task.WhenAll(submits).WaitAsync(TimeSpan.FromSeconds(30));

        // The held commit, then the 400 queued submits in batches of at most MaxBatch (256): two more.
        Assert.Equal(3, writer.Commits - before);
        Assert.Equal(400, host.Store.List(DraftState.Pending, null, 1000).Count);
    }

    [Fact]
    public async Task WriteAsync_WriterIdle_CommittedBeforeItReturns()
    {
        await using var host = await TestHost.StartAsync();

        // No commit running: the caller commits on its own thread instead of waking a writer thread and being woken back.
        var submit = host.Store.SubmitAsync(Draft("post:idle"));

        Assert.True(submit.IsCompletedSuccessfully);
        Assert.NotNull(host.Store.Get("post:idle"));
        Assert.False((await submit).Receipt!.Duplicate);
    }

    [Fact]
    public async Task WriteAsync_WhileACommitRuns_QueuesThenCommitsInTheNextBatch()
    {
        await using var host = await TestHost.StartAsync();
        var writer = host.Services.GetRequiredService<DraftWriter>();
        var before = writer.Commits;

        await using var slow = HeldCommit.Start(host.Store, ctx => ctx.Execute("INSERT INTO settings(key, value) VALUES ('slow', 'written')"));
        var queued = Enumerable.Range(0, 5).Select(i => host.Store.SubmitAsync(Draft($"post:q{i}"))).ToList();

        Assert.All(queued, q => Assert.False(q.IsCompleted));
        Assert.Null(host.Store.Get("post:q0"));
        slow.Release();
        await slow.Written;
        await Task.WhenAll(queued).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(2, writer.Commits - before);
        Assert.Equal("written", host.Store.GetSetting("slow"));
        Assert.Equal(5, host.Store.List(DraftState.Pending, null, 100).Count);
    }

    [Fact]
    public async Task WriteAsync_SteadyStream_WalStartsOverInsteadOfGrowing()
    {
        await using var host = await TestHost.StartAsync();
        var writer = host.Services.GetRequiredService<DraftWriter>();
        var wal = new FileInfo(Path.Combine(host.DataDirectory, "approvals.db-wal"));
        long largest = 0;

        // Back to back, as one busy agent: the background checkpoint always has a commit landing while it copies.
        const int submits = DraftWriter.CheckpointEveryCommits * 4;
        for (var i = 0; i < submits; i++)
        {
            await host.Store.SubmitAsync(Draft($"post:s{i}"));
            wal.Refresh();
            largest = Math.Max(largest, wal.Length);
        }

        // About 7-9 pages of 4 KB a submit: the commits between two checkpoints fill the WAL that far before it starts
        // over (~12 MB). Without the writer's catch-up it grew by every commit, to ~50 MB after these.
        const long twoIntervals = 2L * DraftWriter.CheckpointEveryCommits * 10 * 4096;
        Assert.True(writer.CatchUps >= 2, $"{writer.CatchUps} catch-up checkpoints");
        Assert.InRange(largest, 1, twoIntervals);
    }

    [Fact]
    public async Task WriteAsync_BigBatchesInFewCommits_CheckpointedByTheirNumberOfWrites()
    {
        await using var host = await TestHost.StartAsync();
        var writer = host.Services.GetRequiredService<DraftWriter>();
        await using var slow = HeldCommit.Start(host.Store);
        var before = writer.Commits;

        // As many agents at once: everything queued behind one commit goes in a few big batches.
        var queued = Enumerable.Range(0, DraftWriter.CheckpointEveryWrites + 10).Select(i => host.Store.SubmitAsync(Draft($"post:b{i}"))).ToList();
        slow.Release();
        await slow.Written;
        await Task.WhenAll(queued).WaitAsync(TimeSpan.FromSeconds(60));

        // The WAL grows with the writes, not the commits: far fewer commits than the commit rule waits for.
        Assert.InRange(writer.Commits - before, 1, DraftWriter.CheckpointEveryCommits / 4);
        await Eventually.TrueAsync(() => writer.Checkpoints >= 1, "a background checkpoint after the writes");
    }

    /// <summary>One commit acknowledges a batch: a member that throws is rolled back alone, and the others of its batch commit.</summary>
    [Fact]
    public async Task WriteAsync_WorkThrowsInsideABatch_OnlyThatWriteFails()
    {
        await using var host = await TestHost.StartAsync();
        var writer = host.Services.GetRequiredService<DraftWriter>();
        await using var slow = HeldCommit.Start(host.Store);
        var before = writer.Commits;

        // Queued behind the held commit, so the three go in one batch.
        var first = host.Store.SetSettingAsync("before", "written");
        var failing = host.Store.WriteAsync<int>(ctx =>
        {
            ctx.Execute("INSERT INTO settings(key, value) VALUES ('half', 'written')");
            throw new InvalidOperationException("refused");
        });
        var last = host.Store.SetSettingAsync("after", "written");
        slow.Release();
        await slow.Written;

        await Assert.ThrowsAsync<InvalidOperationException>(() => failing);
        await Task.WhenAll(first, last);
        Assert.Equal(before + 2, writer.Commits);
        Assert.Null(host.Store.GetSetting("half"));
        Assert.Equal("written", host.Store.GetSetting("before"));
        Assert.Equal("written", host.Store.GetSetting("after"));
    }

    [Fact]
    public async Task DisposeAsync_WritesQueuedBehindACommit_StillCommittedThenNewWritesRefused()
    {
        await using var host = await TestHost.StartAsync();
        var writer = host.Services.GetRequiredService<DraftWriter>();
        await using var slow = HeldCommit.Start(host.Store);
        var queued = host.Store.SubmitAsync(Draft("post:last"));

        var disposing = writer.DisposeAsync().AsTask();
        slow.Release();
        await disposing.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.False((await queued).Receipt!.Duplicate);
        Assert.NotNull(host.Store.Get("post:last"));
        Assert.Throws<StoreUnavailableException>(() => { _ = host.Store.SubmitAsync(Draft("post:late")); });
        await slow.Written;
    }
}
