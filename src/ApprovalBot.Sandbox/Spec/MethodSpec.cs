namespace ApprovalBot.Sandbox.Spec;

internal sealed record MethodSpec(string Name, IReadOnlyList<FieldSpec> Fields)
{
    public FieldSpec? Field(string name) => Fields.FirstOrDefault(f => f.Name == name);
}
