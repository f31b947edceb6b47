using System.Text.Json.Nodes;

namespace ApprovalBot.Drafts;

/// <summary>
/// A compare-and-set move of one draft: applied only while the draft is in one of <see cref="From"/>,
/// together with its ledger event and the columns its owner records. <see cref="To"/> equal to the
/// current state records facts (an attempt, an error) without moving the draft.
/// </summary>
internal sealed record Transition(string Id, IReadOnlyCollection<DraftState> From, DraftState To, string EventType, string Actor)
{
    public IReadOnlyDictionary<string, object?> Set { get; init; } = new Dictionary<string, object?>();

    public JsonObject? Details { get; init; }
}

/// <summary>What a transition found: applied or not, and the draft as it is after the commit (null: no such draft).</summary>
internal sealed record TransitionResult(bool Applied, Draft? Draft);
