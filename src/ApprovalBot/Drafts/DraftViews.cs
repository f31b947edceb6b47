using System.Text.Json;
using ApprovalBot.Client;

namespace ApprovalBot.Drafts;

/// <summary>How a stored draft appears on the wire.</summary>
internal static class DraftViews
{
    /// <summary>Why a view has no context although one is stored (<c>context_error</c>).</summary>
    public const string UnreadableContext =
        "the stored context holds a name or string that is not valid Unicode (an unpaired surrogate escape, stored by an older build); left out";

    public const string ContextNotJson = "the stored context is not JSON; left out";

    /// <summary>
    /// Most levels of objects and arrays a context may nest, itself included (<see cref="ProtocolJson.MaxContextDepth"/>,
    /// where approvalctl checks it too). The request's 64 levels let a submit store 62.
    /// </summary>
    public const int MaxContextDepth = ProtocolJson.MaxContextDepth;

    public static readonly string ContextTooDeep =
        $"the stored context nests more than {MaxContextDepth} levels of objects and arrays (stored by an older build); left out";

    public static DraftView ToView(this Draft d)
    {
        var (context, contextError) = ReadContext(d.ContextJson);
        return new()
        {
            Id = d.Id,
            Seq = d.Seq,
            Kind = d.Kind,
            Agent = d.Agent,
            Text = d.Text,
            Sha256 = d.Sha256,
            Context = context,
            ContextError = contextError,
            State = d.State.ToWire(),
            CreatedAt = d.CreatedAt,
            UpdatedAt = d.UpdatedAt,
            Card = d.CardMessageId is null && d.CardAttempts == 0 ? null : new CardView(d.CardChatId, d.CardMessageId, d.CardAttempts, d.CardError),
            Decision = d.Decision is null ? null : new DecisionView(d.Decision, d.DecidedBy ?? 0, d.DecidedByName, d.DecidedAt ?? d.UpdatedAt, d.DecisionSha256 ?? ""),
            // A draft blocked by the handoff check never ran, yet its reason (exec_error) is what an agent polling it needs.
            Execution = d.ExecAttempts == 0 && d.ExecKey is null && d.ExecError is null && d.ExecResult is null ? null : new ExecutionView(d.ExecAttempts, d.ExecKey, d.ExecResult, d.ExecError, d.ExecAt)
            {
                // Executed by an approver's word, not by a run: result and error stay the last attempt's.
                MarkedDone = d.State == DraftState.Executed && d.MarkedDoneBy is { } by ? new MarkedDoneView(by, d.MarkedDoneByName, d.StateSince) : null,
            },
            Cancellation = d.WithdrawnByAgent ? new CancellationView(d.CancelledBy!, d.CancelReason, d.StateSince) : null,
        };
    }

    /// <summary>
    /// The stored context, or why it is left out. A context an older build stored unchecked can hold text that is not
    /// valid Unicode, which the JSON writer refuses: the whole answer of a get, wait or list that included the draft was
    /// then answered internal, and a claim too, after its leases were committed, so every draft claimed with it waited
    /// out its lease and used up its attempts without ever reaching the executor. The approver's card leaves such a
    /// context out with a note as well, so the executor gets what the approver saw.
    /// </summary>
    public static (JsonElement? Context, string? Error) ReadContext(string? json)
    {
        if (json is null) return (null, null);
        try
        {
            // Read with the depth limit, so that a context within it (every one a submit stores) is walked once, for its text.
            using var doc = JsonDocument.Parse(json, WithinDepth);
            return JsonTextCheck.HoldsUnreadableText(doc.RootElement) ? (null, UnreadableContext) : (doc.RootElement.Clone(), null);
        }
        catch (JsonException)
        {
            // Too deep, or not JSON: read again without the limit to tell which (and its text first, as for any context).
            try
            {
                using var doc = JsonDocument.Parse(json);
                return (null, JsonTextCheck.HoldsUnreadableText(doc.RootElement) ? UnreadableContext : ContextTooDeep);
            }
            catch (JsonException)
            {
                return (null, ContextNotJson);
            }
        }
    }

    private static readonly JsonDocumentOptions WithinDepth = new() { MaxDepth = MaxContextDepth };
}
