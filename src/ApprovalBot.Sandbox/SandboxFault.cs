namespace ApprovalBot.Sandbox;

public enum SandboxFaultKind
{
    /// <summary>Answer with an error envelope instead of performing the call.</summary>
    Error,

    /// <summary>
    /// Do not answer for a while (or until the client gives up); the call is performed either way, as Telegram does with a
    /// request it received (a slow answer is no sign it was not carried out). Held at a <see cref="SandboxFault.Gate"/>, it
    /// is performed only once released while the client still waits.
    /// </summary>
    Hang,

    /// <summary>Perform the call, then lose the answer, so the client sees a failure for something that happened.</summary>
    ResponseLost,
}

public enum ResponseLossMode
{
    /// <summary>Reset the connection without an answer.</summary>
    AbortConnection,

    /// <summary>Answer 502 like a proxy in front of the Bot API would.</summary>
    BadGateway,

    /// <summary>Answer 200 with a body that is not a Bot API answer (not JSON), as a proxy that mangles the answer would.</summary>
    Unreadable,

    /// <summary>Answer 200 <c>{"ok":true}</c> without the result: the call went through, what it made is not said.</summary>
    NoResult,
}

/// <summary>A failure to inject into the next calls of a method.</summary>
public sealed record SandboxFault
{
    public required SandboxFaultKind Kind { get; init; }

    public int ErrorCode { get; init; }

    public string? Description { get; init; }

    public int? RetryAfter { get; init; }

    public long? MigrateToChatId { get; init; }

    /// <summary>For <see cref="SandboxFaultKind.Hang"/>: null hangs until the client disconnects; the call is performed then.</summary>
    public TimeSpan? HangFor { get; init; }

    /// <summary>For <see cref="SandboxFaultKind.Hang"/>: when set, the call waits at this gate instead of for <see cref="HangFor"/>.</summary>
    public SandboxGate? Gate { get; init; }

    public ResponseLossMode LossMode { get; init; }

    public static SandboxFault Error(int errorCode, string description, int? retryAfter = null) =>
        new() { Kind = SandboxFaultKind.Error, ErrorCode = errorCode, Description = description, RetryAfter = retryAfter };

    public static SandboxFault TooManyRequests(int retryAfter) =>
        Error(429, $"Too Many Requests: retry after {retryAfter}", retryAfter);

    public static SandboxFault Hang(TimeSpan? duration = null) => new() { Kind = SandboxFaultKind.Hang, HangFor = duration };

    /// <summary>Holds the call at <paramref name="gate"/> until the test releases it, then performs it normally.</summary>
    public static SandboxFault Hold(SandboxGate gate) => new() { Kind = SandboxFaultKind.Hang, Gate = gate };

    public static SandboxFault ResponseLost(ResponseLossMode mode = ResponseLossMode.AbortConnection) =>
        new() { Kind = SandboxFaultKind.ResponseLost, LossMode = mode };
}
