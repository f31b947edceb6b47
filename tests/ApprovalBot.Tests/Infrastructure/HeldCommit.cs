using ApprovalBot.Drafts;

namespace ApprovalBot.Tests.Infrastructure;

/// <summary>
/// A write that holds the store's commit role until released, as a slow commit does: writes made meanwhile queue
/// behind it. <see cref="Start"/> returns once the write is running inside its transaction.
/// </summary>
internal sealed class HeldCommit : IAsyncDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);
    private readonly ManualResetEventSlim _inside = new();
    private readonly ManualResetEventSlim _release = new();

    private HeldCommit(DraftStore store, Func<WriteContext, int> work) =>
        Written = Task.Run(() => store.WriteAsync(ctx =>
        {
            _inside.Set();
            _release.Wait(Limit);
            return work(ctx);
        }));

    /// <summary>The held write itself; completes once its batch is committed after <see cref="Release"/>.</summary>
    public Task<int> Written { get; }

    /// <summary>Starts the write (<paramref name="work"/> runs inside it once released) and waits until it holds the commit.</summary>
    public static HeldCommit Start(DraftStore store, Func<WriteContext, int>? work = null)
    {
        var held = new HeldCommit(store, work ?? (_ => 0));
        if (!held._inside.Wait(Limit))
        {
            throw new TimeoutException("The held write never started.");
        }
        return held;
    }

    public void Release() => _release.Set();

    public async ValueTask DisposeAsync()
    {
        Release();
        try
        {
            await Written.ConfigureAwait(false);
        }
        catch (StoreUnavailableException)
        {
            // The test may have closed the store meanwhile; the write's outcome is its business.
        }
        _inside.Dispose();
        _release.Dispose();
    }
}
