namespace ApprovalBot.Drafts;

/// <summary>
/// In-process notification of committed changes. <c>wait</c> and the features that act on a state
/// (cards on <c>pending</c>, the executor on <c>approved</c>) listen here instead of polling the database.
/// </summary>
internal sealed class DraftSignals
{
    // One entry per id somebody waits on, shared by its waiters and removed when the last of them lets go (or at
    // the change): a wait that times out on a draft that never moves again must not leave its entry behind.
    private readonly Dictionary<string, Entry> _waiters = new(StringComparer.Ordinal);
    private readonly Lock _waitersLock = new();
    private int _waiting;
    private readonly List<Action<DraftChange>> _listeners = [];
    private readonly Lock _listenersLock = new();

    /// <summary>Waits registered with <see cref="NextChange"/> and not yet disposed, over all ids.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>Ids with at least one registered wait whose change has not come yet.</summary>
    public int WaitedIds
    {
        get
        {
            lock (_waitersLock)
            {
                return _waiters.Count;
            }
        }
    }

    /// <summary>Raised after <see cref="Waiting"/> changed, with its new value; must be quick and must not throw.</summary>
    public event Action<int>? WaitingChanged;

    /// <summary>Runs <paramref name="listener"/> after each committed change; it must be quick and must not throw.</summary>
    public void Subscribe(Action<DraftChange> listener)
    {
        lock (_listenersLock)
        {
            _listeners.Add(listener);
        }
    }

    /// <summary>
    /// Registers for the next committed change of <paramref name="id"/>: take it before reading the state, and
    /// dispose it when done waiting (at the change, the timeout or cancellation alike). One never disposed holds
    /// its id's entry until the change comes, and counts in <see cref="Waiting"/> for good.
    /// </summary>
    public Registration NextChange(string id)
    {
        Registration registration;
        int waiting;
        lock (_waitersLock)
        {
            if (!_waiters.TryGetValue(id, out var entry))
            {
                entry = new Entry();
                _waiters.Add(id, entry);
            }
            entry.Count++;
            waiting = ++_waiting;
            registration = new Registration(entry.Changed.Task, () => Release(id, entry));
        }
        WaitingChanged?.Invoke(waiting);
        return registration;
    }

    public void Publish(DraftChange change)
    {
        Entry? woken = null;
        lock (_waitersLock)
        {
            if (_waiters.Remove(change.Id, out var entry))
            {
                woken = entry;
            }
        }
        woken?.Changed.TrySetResult();
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

    private void Release(string id, Entry entry)
    {
        int waiting;
        lock (_waitersLock)
        {
            // The entry may already be gone (the change came) or replaced by a newer one for the same id.
            if (--entry.Count == 0 && _waiters.TryGetValue(id, out var current) && current == entry)
            {
                _waiters.Remove(id);
            }
            waiting = --_waiting;
        }
        WaitingChanged?.Invoke(waiting);
    }

    private sealed class Entry
    {
        public TaskCompletionSource Changed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Registrations not yet disposed; guarded by <see cref="_waitersLock"/>.</summary>
        public int Count { get; set; }
    }

    /// <summary>One registered wait for the next change of a draft.</summary>
    public sealed class Registration(Task changed, Action release) : IDisposable
    {
        private int _disposed;

        /// <summary>Completes at the next committed change of the draft.</summary>
        public Task Changed => changed;

        /// <summary><see cref="Changed"/>, or <see cref="TimeoutException"/> after <paramref name="timeout"/>.</summary>
        public Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
            changed.WaitAsync(timeout, cancellationToken);

        /// <inheritdoc cref="WaitAsync(TimeSpan, CancellationToken)"/>
        public Task WaitAsync(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken) =>
            changed.WaitAsync(timeout, time, cancellationToken);

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                release();
            }
        }
    }
}
