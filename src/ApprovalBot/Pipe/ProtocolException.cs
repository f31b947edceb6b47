namespace ApprovalBot.Pipe;

/// <summary>A request refused at the boundary with a protocol error code and, where one is at fault, the field.</summary>
internal sealed class ProtocolException(string code, string message, string? field = null) : Exception(message)
{
    public string Code { get; } = code;

    public string? Field { get; } = field;
}
