namespace ApprovalBot.Sandbox.State;

/// <summary>Faults queued per method; each call of that method takes the next one.</summary>
internal sealed class FaultPlan
{
    private readonly Dictionary<string, Queue<SandboxFault>> _queued = new(StringComparer.OrdinalIgnoreCase);

    public void Add(string method, SandboxFault fault, int times)
    {
        if (!_queued.TryGetValue(method, out var queue))
        {
            _queued[method] = queue = new Queue<SandboxFault>();
        }

        for (var i = 0; i < times; i++)
        {
            queue.Enqueue(fault);
        }
    }

    public SandboxFault? TakeNext(string method) =>
        _queued.TryGetValue(method, out var queue) && queue.TryDequeue(out var fault) ? fault : null;

    public int Remaining(string method) => _queued.TryGetValue(method, out var queue) ? queue.Count : 0;

    public void Clear() => _queued.Clear();
}
