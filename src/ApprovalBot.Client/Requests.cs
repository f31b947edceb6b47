using System.Text.Json;
using System.Text.Json.Serialization;

namespace ApprovalBot.Client;

/// <summary>The draft an agent hands over. Checked on the receiving side; anything non-conforming is refused.</summary>
public sealed record DraftSubmission
{
    /// <summary>1–200 characters of <c>[A-Za-z0-9:_\-./@]</c>, chosen by the agent so a retry is idempotent.</summary>
    public required string Id { get; init; }

    /// <summary>A kind configured under <c>ApprovalBot:Kinds</c>.</summary>
    public required string Kind { get; init; }

    public required string Agent { get; init; }

    public required string Text { get; init; }

    /// <summary>A JSON object; <c>rationale</c> and <c>source_url</c> are shown on the card.</summary>
    public JsonElement? Context { get; init; }
}

public sealed record PingRequest
{
    public string Op { get; init; } = Ops.Ping;
}

public sealed record SubmitRequest
{
    public string Op { get; init; } = Ops.Submit;

    public required DraftSubmission Draft { get; init; }
}

public sealed record GetRequest
{
    public string Op { get; init; } = Ops.Get;

    public required string Id { get; init; }
}

public sealed record WaitRequest
{
    public string Op { get; init; } = Ops.Wait;

    public required string Id { get; init; }

    /// <summary>How long to wait for a decision; 0–600000, default 30000.</summary>
    public int? TimeoutMs { get; init; }

    /// <summary>
    /// <c>decided</c> (default): answer once the draft leaves pending/carded. <c>final</c>: answer once nothing
    /// automatic will move it further (executed, rejected, expired, cancelled, failed, blocked, unknown).
    /// </summary>
    public string? Until { get; init; }
}

/// <summary>Values of <see cref="WaitRequest.Until"/>.</summary>
public static class WaitUntil
{
    public const string Decided = "decided";
    public const string Final = "final";
}

public sealed record ListRequest
{
    public string Op { get; init; } = Ops.List;

    public string? State { get; init; }

    public string? Kind { get; init; }

    /// <summary>1–1000, default 50; newest first.</summary>
    public int? Limit { get; init; }

    /// <summary>
    /// A draft's <c>seq</c> (1 or more): only drafts with a smaller one, so the next page starts where the last ended
    /// (<see cref="Response.NextBefore"/>). Null: from the newest.
    /// </summary>
    public long? Before { get; init; }
}

public sealed record ReportRequest
{
    public string Op { get; init; } = Ops.Report;

    /// <summary><c>orphans</c> or <c>stale</c>.</summary>
    public required string Name { get; init; }
}

public sealed record ClaimRequest
{
    public string Op { get; init; } = Ops.Claim;

    public required string Kind { get; init; }

    /// <summary>1–100, default 10.</summary>
    public int? Max { get; init; }

    /// <summary>5–3600, default 60.</summary>
    public int? LeaseSeconds { get; init; }
}

public sealed record CompleteRequest
{
    public string Op { get; init; } = Ops.Complete;

    public required string Id { get; init; }

    public required string Lease { get; init; }

    public string? Result { get; init; }
}

public sealed record FailRequest
{
    public string Op { get; init; } = Ops.Fail;

    public required string Id { get; init; }

    public required string Lease { get; init; }

    public required string Error { get; init; }

    public bool? Retryable { get; init; }

    /// <summary>
    /// True when the executor cannot tell whether its attempt took effect (its own call to the target timed out or was
    /// cut off after the request went out); left out or false, the failure is a definite answer that nothing was posted.
    /// On a route that dedupes (<c>Idempotent</c>) the draft is retried per <see cref="Retryable"/> under the same key and
    /// cannot be withdrawn meanwhile; on one that does not it becomes <c>unknown</c>, for the approver to check and decide.
    /// </summary>
    public bool? MayHaveTakenEffect { get; init; }
}

/// <summary>
/// Withdraws a draft its agent no longer wants executed: one awaiting a decision (pending, carded), approved but not
/// running yet, or failed. Repeating it for a draft this op already cancelled answers as the first time did.
/// </summary>
public sealed record CancelRequest
{
    public string Op { get; init; } = Ops.Cancel;

    public required string Id { get; init; }

    /// <summary>Why, shown on the approver's card and kept in the ledger: one line, at most <see cref="ProtocolJson.MaxReasonLength"/> UTF-16 code units.</summary>
    public string? Reason { get; init; }
}

/// <summary>The operation names of protocol v1.</summary>
public static class Ops
{
    public const string Ping = "ping";
    public const string Submit = "submit";
    public const string Get = "get";
    public const string Wait = "wait";
    public const string List = "list";
    public const string Report = "report";
    public const string Claim = "claim";
    public const string Complete = "complete";
    public const string Fail = "fail";
    public const string Cancel = "cancel";
}
