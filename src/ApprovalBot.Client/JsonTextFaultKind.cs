namespace ApprovalBot.Client;

/// <summary>What <see cref="JsonTextCheck.FirstFault"/> found.</summary>
public enum JsonTextFaultKind
{
    /// <summary>An object's name is not valid Unicode.</summary>
    UnreadableName,

    /// <summary>A string is not valid Unicode.</summary>
    UnreadableString,

    /// <summary>An object has a name twice (compared as decoded: <c>"a"</c> and <c>"\u0061"</c> are the same).</summary>
    RepeatedName,
}
