namespace ApprovalBot.Sandbox;

/// <summary>A Bot API call the sandbox received, for assertions. Parameters are shown as text; files as a summary.</summary>
public sealed record ApiCall
{
    public required long Sequence { get; init; }

    public required DateTimeOffset At { get; init; }

    /// <summary>The method name as the spec spells it (or as sent, when it is not in the spec).</summary>
    public required string Method { get; init; }

    public required IReadOnlyDictionary<string, string> Parameters { get; init; }

    /// <summary>The HTTP status answered; 0 when the client went away before an answer.</summary>
    public required int StatusCode { get; init; }

    public string? Description { get; init; }

    /// <summary>The call took effect but the client was not told (a "response lost" fault).</summary>
    public bool ResponseLost { get; init; }

    public bool Ok => StatusCode == 200 && !ResponseLost;
}
