using System.Text.Json;
using ApprovalBot.Client;

namespace ApprovalBot.Drafts;

/// <summary>How a stored draft appears on the wire.</summary>
internal static class DraftViews
{
    public static DraftView ToView(this Draft d) => new()
    {
        Id = d.Id,
        Seq = d.Seq,
        Kind = d.Kind,
        Agent = d.Agent,
        Text = d.Text,
        Sha256 = d.Sha256,
        Context = ParseContext(d.ContextJson),
        State = d.State.ToWire(),
        CreatedAt = d.CreatedAt,
        UpdatedAt = d.UpdatedAt,
        Card = d.CardMessageId is null && d.CardAttempts == 0 ? null : new CardView(d.CardChatId, d.CardMessageId, d.CardAttempts, d.CardError),
        Decision = d.Decision is null ? null : new DecisionView(d.Decision, d.DecidedBy ?? 0, d.DecidedByName, d.DecidedAt ?? d.UpdatedAt, d.DecisionSha256 ?? ""),
        // A draft blocked by the handoff check never ran, yet its reason (exec_error) is what an agent polling it needs.
        Execution = d.ExecAttempts == 0 && d.ExecKey is null && d.ExecError is null && d.ExecResult is null ? null : new ExecutionView(d.ExecAttempts, d.ExecKey, d.ExecResult, d.ExecError, d.ExecAt),
    };

    public static JsonElement? ParseContext(string? json)
    {
        if (json is null) return null;
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.Clone();
    }
}
