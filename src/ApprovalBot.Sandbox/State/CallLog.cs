namespace ApprovalBot.Sandbox.State;

internal sealed class CallLog
{
    private readonly List<ApiCall> _calls = [];
    private long _sequence;

    public IReadOnlyList<ApiCall> All => _calls;

    public ApiCall Add(DateTimeOffset at, string method, IReadOnlyDictionary<string, string> parameters, int status, string? description, bool responseLost)
    {
        var call = new ApiCall
        {
            Sequence = ++_sequence,
            At = at,
            Method = method,
            Parameters = parameters,
            StatusCode = status,
            Description = description,
            ResponseLost = responseLost,
        };
        _calls.Add(call);
        return call;
    }

    public void Clear() => _calls.Clear();
}
