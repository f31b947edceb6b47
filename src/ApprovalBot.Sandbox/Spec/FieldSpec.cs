namespace ApprovalBot.Sandbox.Spec;

/// <summary>A parameter of a method or a field of a type, as the spec lists it.</summary>
internal sealed record FieldSpec(string Name, IReadOnlyList<string> Types, bool Required, string Description);
