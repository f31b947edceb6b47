using System.Text.Json;

namespace ApprovalBot.Client;

/// <summary>One response line. <see cref="Ok"/> tells which of the other members is set.</summary>
public sealed record Response
{
    public bool Ok { get; init; }

    public Receipt? Receipt { get; init; }

    public DraftView? Draft { get; init; }

    public IReadOnlyList<DraftView>? Drafts { get; init; }

    public Report? Report { get; init; }

    public IReadOnlyList<ClaimedDraft>? Claimed { get; init; }

    public string? Version { get; init; }

    public ProtocolError? Error { get; init; }

    /// <summary><c>wait</c> only: false when the timeout came before a decision.</summary>
    public bool? Decided { get; init; }

    /// <summary>
    /// <c>list</c> only, when more drafts match than the page held: the <see cref="ListRequest.Before"/> that lists the
    /// next (older) page. Absent on the last page.
    /// </summary>
    public long? NextBefore { get; init; }

    /// <summary>
    /// True on the line the service writes, unasked, before it closes an idle connection whose slot another agent needs:
    /// an <c>unavailable</c> error that is the answer to whatever was sent on the connection afterwards, none of which is
    /// carried out. <see cref="PipeClient"/> connects again and sends the request again by itself.
    /// </summary>
    public bool? Closed { get; init; }

    public static Response Failure(string code, string message, string? field = null) =>
        new() { Ok = false, Error = new ProtocolError(code, message, field) };
}

/// <summary>Proof that the exact text was committed: <see cref="Sha256"/> is the hex SHA-256 of its UTF-8 bytes.</summary>
public sealed record Receipt(string Id, long Seq, string Sha256, string State, bool Duplicate);

public sealed record ProtocolError(string Code, string Message, string? Field = null);

public sealed record DraftView
{
    public required string Id { get; init; }
    public long Seq { get; init; }
    public required string Kind { get; init; }
    public required string Agent { get; init; }

    /// <summary>Null only when the text has gone missing from the store, which is itself a reported gap.</summary>
    public string? Text { get; init; }
    public required string Sha256 { get; init; }
    public JsonElement? Context { get; init; }

    /// <summary>Why <see cref="Context"/> is missing although the draft has one stored (it cannot be written as JSON).</summary>
    public string? ContextError { get; init; }
    public required string State { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    public CardView? Card { get; init; }
    public DecisionView? Decision { get; init; }
    public ExecutionView? Execution { get; init; }

    /// <summary>Set once the agent withdrew the draft with <c>cancel</c>: by whom, why and when.</summary>
    public CancellationView? Cancellation { get; init; }
}

public sealed record CardView(long? ChatId, long? MessageId, int Attempts, string? Error);

/// <summary>Who decided, when, and the hash of the text they were shown.</summary>
public sealed record DecisionView(string Outcome, long By, string? ByName, DateTimeOffset At, string Sha256);

/// <summary>A withdrawal: <see cref="By"/> is <c>agent</c> (through the pipe's <c>cancel</c>); <see cref="Reason"/> as given, if any.</summary>
public sealed record CancellationView(string By, string? Reason, DateTimeOffset At);

/// <summary>
/// The attempts and the last one's outcome: <see cref="Result"/> and <see cref="Error"/> are what the last attempt recorded,
/// also once a person settled the draft (<see cref="MarkedDone"/>).
/// </summary>
public sealed record ExecutionView(int Attempts, string? IdempotencyKey, string? Result, string? Error, DateTimeOffset? At)
{
    /// <summary>
    /// Set when the draft is executed because an approver marked it done (its outcome was unknown, and they checked the
    /// sink), not because a run succeeded; null otherwise.
    /// </summary>
    public MarkedDoneView? MarkedDone { get; init; }
}

/// <summary>An approver's Mark done: their Telegram user id (0 if the ledger did not name one), name when known, and when.</summary>
public sealed record MarkedDoneView(long By, string? ByName, DateTimeOffset At);

public sealed record Report(string Name, IReadOnlyList<ReportItem> Items);

public sealed record ReportItem(string? DraftId, string Gap, string? State, DateTimeOffset Since, string Detail);

/// <summary>An approved draft handed to a pull executor under a lease.</summary>
public sealed record ClaimedDraft
{
    public required string Id { get; init; }
    public required string Kind { get; init; }
    public required string Agent { get; init; }
    public required string Text { get; init; }
    public required string Sha256 { get; init; }
    public JsonElement? Context { get; init; }

    /// <summary>Why <see cref="Context"/> is missing although the draft has one stored; the approver's card left it out too.</summary>
    public string? ContextError { get; init; }
    public required string IdempotencyKey { get; init; }
    public required string Lease { get; init; }
    public DateTimeOffset LeaseUntil { get; init; }
    public int Attempt { get; init; }
    public DecisionView? Decision { get; init; }
}

/// <summary>The error codes of protocol v1.</summary>
public static class ErrorCodes
{
    public const string BadRequest = "bad_request";
    public const string TooLarge = "too_large";

    /// <summary>Part of a request line came but not its end within the service's <c>Pipe:LineTimeout</c>; nothing was carried out.</summary>
    public const string LineTimeout = "line_timeout";
    public const string UnknownOp = "unknown_op";
    public const string Invalid = "invalid";
    public const string UnknownKind = "unknown_kind";
    public const string Conflict = "conflict";
    public const string NotFound = "not_found";
    public const string Unavailable = "unavailable";
    public const string Internal = "internal";
    public const string LeaseLost = "lease_lost";
}

/// <summary>Draft state names as they appear on the wire.</summary>
public static class States
{
    public const string Pending = "pending";
    public const string Carded = "carded";
    public const string Approved = "approved";
    public const string Rejected = "rejected";
    public const string Expired = "expired";
    public const string Cancelled = "cancelled";
    public const string Executing = "executing";
    public const string Executed = "executed";
    public const string Failed = "failed";
    public const string Blocked = "blocked";
    public const string Unknown = "unknown";

    public static readonly IReadOnlyList<string> All =
        [Pending, Carded, Approved, Rejected, Expired, Cancelled, Executing, Executed, Failed, Blocked, Unknown];
}
