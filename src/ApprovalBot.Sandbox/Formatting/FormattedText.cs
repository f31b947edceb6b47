namespace ApprovalBot.Sandbox.Formatting;

internal sealed record FormattedText(string Text, IReadOnlyList<TextEntity> Entities)
{
    /// <summary>Value equality over the entity list too, so "message is not modified" compares content, not references.</summary>
    public bool SameAs(FormattedText? other) =>
        other is not null && Text == other.Text && Entities.SequenceEqual(other.Entities);
}
