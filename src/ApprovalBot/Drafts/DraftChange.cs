namespace ApprovalBot.Drafts;

/// <summary>A committed change of a draft's state, published after the commit is durable.</summary>
internal sealed record DraftChange(string Id, string Kind, DraftState? From, DraftState To);
