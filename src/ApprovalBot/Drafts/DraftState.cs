using ApprovalBot.Client;

namespace ApprovalBot.Drafts;

internal enum DraftState
{
    Pending,
    Carded,
    Approved,
    Rejected,
    Expired,
    Cancelled,
    Executing,
    Executed,
    Failed,
    Blocked,
    Unknown,
}

internal static class DraftStateNames
{
    public static string ToWire(this DraftState state) => state switch
    {
        DraftState.Pending => States.Pending,
        DraftState.Carded => States.Carded,
        DraftState.Approved => States.Approved,
        DraftState.Rejected => States.Rejected,
        DraftState.Expired => States.Expired,
        DraftState.Cancelled => States.Cancelled,
        DraftState.Executing => States.Executing,
        DraftState.Executed => States.Executed,
        DraftState.Failed => States.Failed,
        DraftState.Blocked => States.Blocked,
        DraftState.Unknown => States.Unknown,
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, null),
    };

    public static bool TryParse(string? wire, out DraftState state)
    {
        foreach (var candidate in Enum.GetValues<DraftState>())
        {
            if (string.Equals(candidate.ToWire(), wire, StringComparison.Ordinal))
            {
                state = candidate;
                return true;
            }
        }
        state = default;
        return false;
    }

    public static DraftState Parse(string wire) =>
        TryParse(wire, out var state) ? state : throw new InvalidDataException($"Unknown draft state '{wire}' in the store.");
}
