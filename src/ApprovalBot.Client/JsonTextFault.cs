namespace ApprovalBot.Client;

/// <param name="Path">
/// A string's own path; for a name, the path of the object holding it (an unreadable name cannot be spelled).
/// </param>
/// <param name="Name">The repeated name (<see cref="JsonTextFaultKind.RepeatedName"/> only).</param>
public readonly record struct JsonTextFault(JsonTextFaultKind Kind, string Path, string? Name = null);
