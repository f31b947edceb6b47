using System.Collections.Concurrent;

namespace ApprovalBot.Drafts;

/// <summary>
/// In-process notification of committed changes. <c>wait</c> and the features that act on a state
/// (cards on <c>pending</c>, the executor on <c>approved</c>) listen here instead of polling the database.
/// </summary>
internal sealed class DraftSignals
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _waiters = new(StringComparer.Ordinal);
    private readonly List<Action<DraftChange>> _listeners = [];
    private readonly Lock _listenersLock = new();

    /// <summary>Runs <paramref name="listener"/> after each committed change; it must be quick and must not throw.</summary>
    public void Subscribe(Action<DraftChange> listener)
    {
        lock (_listenersLock)
        {
            _listeners.Add(listener);
        }
    }

    /// <summary>A task that completes at the next committed change of <paramref name="id"/>. Take it before reading the state.</summary>
    public Task NextChange(string id) =>
        _waiters.GetOrAdd(id, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    public void Publish(DraftChange change)
    {
        if (_waiters.TryRemove(change.Id, out var waiter))
        {
            waiter.TrySetResult();
        }
        Action<DraftChange>[] listeners;
        lock (_listenersLock)
        {
            listeners = [.. _listeners];
        }
        foreach (var listener in listeners)
        {
            listener(change);
        }
    }
}
