using System.Text.Json.Nodes;
using ApprovalBot.Drafts;

namespace ApprovalBot.Execution;

/// <summary>What made a handoff unsafe: a stable code for the ledger, and a sentence for the approver.</summary>
internal sealed record HandoffProblem(string Code, string Description);

/// <summary>
/// The check right before a draft is handed to an executor: the text must still be there, hash to what was
/// stored, and be the text the approver approved. Anything else is never executed.
/// </summary>
internal static class HandoffCheck
{
    public const string Approved = "approved";

    public static HandoffProblem? Verify(Draft d)
    {
        if (!string.Equals(d.Decision, Approved, StringComparison.Ordinal) || string.IsNullOrEmpty(d.DecisionSha256))
        {
            return new("decision_missing", "the draft is approved but no approval bound to a text hash is stored");
        }
        if (d.Text is null)
        {
            return new("text_missing", "the draft text is missing from the store");
        }
        if (!string.Equals(DraftHash.Of(d.Text), d.Sha256, StringComparison.Ordinal))
        {
            return new("text_changed", "the stored text no longer matches the hash it was stored with");
        }
        if (!string.Equals(d.Sha256, d.DecisionSha256, StringComparison.Ordinal))
        {
            return new("hash_mismatch", "the approval was given for a different text than the one stored");
        }
        return null;
    }

    /// <summary>The codes of <see cref="HandoffProblem"/>, in the order <see cref="Verify"/> checks them.</summary>
    public static readonly IReadOnlyList<string> Codes = ["decision_missing", "text_missing", "text_changed", "hash_mismatch"];

    /// <summary>
    /// The reason stored on a blocked draft (<c>exec_error</c>): the problem code first (the reconciler names the
    /// gap from it), then what was missing or different, with the hashes.
    /// </summary>
    public static string Reason(Draft d, HandoffProblem problem) =>
        $"{problem.Code}: {problem.Description}; approved sha256 {d.DecisionSha256 ?? "none"}, stored {d.Sha256}, " +
        $"text now {(d.Text is null ? "missing" : DraftHash.Of(d.Text))}";

    /// <summary>The problem code a <see cref="Reason"/> starts with; null for anything else.</summary>
    public static string? CodeOf(string? reason)
    {
        var colon = reason?.IndexOf(':', StringComparison.Ordinal) ?? -1;
        return colon > 0 && Codes.Contains(reason![..colon], StringComparer.Ordinal) ? reason[..colon] : null;
    }

    /// <summary>Everything needed to diagnose the gap from the ledger alone.</summary>
    public static JsonObject Details(Draft d, HandoffProblem problem, string stage) => new()
    {
        ["problem"] = problem.Code,
        ["description"] = problem.Description,
        ["stage"] = stage,
        ["kind"] = d.Kind,
        ["agent"] = d.Agent,
        ["approver_id"] = d.DecidedBy,
        ["approver"] = d.DecidedByName,
        ["decided_at"] = d.DecidedAt?.ToString("O"),
        ["stored_sha256"] = d.Sha256,
        ["expected_sha256"] = d.DecisionSha256,
        ["actual_sha256"] = d.Text is null ? null : DraftHash.Of(d.Text),
        ["text_present"] = d.Text is not null,
    };
}
