using ApprovalBot.Client;

namespace ApprovalBot.Drafts;

/// <summary>A validated submission, ready to store.</summary>
internal sealed record NewDraft(string Id, string Kind, string Agent, string Text, string Sha256, string? ContextJson);

/// <summary>The receipt, or the conflict when the id is taken by a different text.</summary>
internal sealed record SubmitOutcome(Receipt? Receipt, string? ConflictingSha256);
