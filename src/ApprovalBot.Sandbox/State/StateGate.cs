using System.Diagnostics;

namespace ApprovalBot.Sandbox.State;

/// <summary>
/// One lock over all sandbox state plus a change signal: every write wakes every waiter, which then
/// re-checks its condition under the lock. Waiters never sleep-poll and never miss a change, because the
/// condition check and taking the current signal happen atomically.
/// </summary>
internal sealed class StateGate
{
    private readonly Lock _lock = new();
    private TaskCompletionSource _changed = NewSignal();

    /// <summary>Counts writes, so a watcher (the human page) can ask "anything newer than what I have?".</summary>
    public long Version { get; private set; }

    public T Read<T>(Func<T> read)
    {
        lock (_lock)
        {
            return read();
        }
    }

    public T Write<T>(Func<T> write)
    {
        lock (_lock)
        {
            try
            {
                return write();
            }
            finally
            {
                Pulse();
            }
        }
    }

    public void Write(Action write) => Write(() =>
    {
        write();
        return true;
    });

    /// <summary>Waits until <paramref name="probe"/> returns non-null; null when the timeout passes first.</summary>
    public async Task<T?> WaitAsync<T>(Func<T?> probe, TimeSpan timeout, CancellationToken ct)
        where T : class
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                var result = probe();
                if (result is not null)
                {
                    return result;
                }

                changed = _changed.Task;
            }

            var remaining = timeout == Timeout.InfiniteTimeSpan
                ? Timeout.InfiniteTimeSpan
                : timeout - Stopwatch.GetElapsedTime(started);
            if (remaining != Timeout.InfiniteTimeSpan && remaining <= TimeSpan.Zero)
            {
                return null;
            }

            try
            {
                await changed.WaitAsync(remaining, ct).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return null;
            }
        }
    }

    private void Pulse()
    {
        Version++;
        var previous = _changed;
        _changed = NewSignal();
        previous.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
