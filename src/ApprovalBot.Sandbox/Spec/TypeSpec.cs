namespace ApprovalBot.Sandbox.Spec;

/// <summary>
/// An object type of the spec. Abstract types (e.g. BotCommandScope) list subtypes instead of fields;
/// <see cref="Discriminator"/> is the fixed value of a subtype's <see cref="DiscriminatorField"/> ("type" for most,
/// "status" for the ChatMember kinds), so a union can be resolved the way Telegram resolves it instead of by guessing
/// from the shape.
/// </summary>
internal sealed record TypeSpec(
    string Name, IReadOnlyList<FieldSpec> Fields, IReadOnlyList<string> Subtypes, string? Discriminator, string DiscriminatorField = "type")
{
    public bool IsAbstract => Subtypes.Count > 0;

    public FieldSpec? Field(string name) => Fields.FirstOrDefault(f => f.Name == name);
}
