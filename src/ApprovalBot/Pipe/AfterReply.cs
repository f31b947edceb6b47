namespace ApprovalBot.Pipe;

/// <summary>
/// Work an operation wants done once its response has been written to the agent, not before: the connection's
/// server opens a scope around each request and runs what was deferred right after the write. Outside a scope
/// (an operation called directly, as in tests) the work runs at once.
/// </summary>
internal sealed class AfterReply
{
    private static readonly AsyncLocal<AfterReply?> Current = new();
    private Action? _work;

    /// <summary>Runs <paramref name="work"/> after the current request's response is written, or now outside a request.</summary>
    public static void Defer(Action work)
    {
        if (Current.Value is { } scope)
        {
            scope._work += work;
        }
        else
        {
            work();
        }
    }

    /// <summary>Opens the scope of one request on this flow; the operations it calls see it.</summary>
    public static AfterReply Begin()
    {
        var scope = new AfterReply();
        Current.Value = scope;
        return scope;
    }

    /// <summary>Ends the scope and runs what was deferred in it.</summary>
    public void Run()
    {
        Current.Value = null;
        var work = _work;
        _work = null;
        work?.Invoke();
    }
}
