using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalBot.Sandbox.Spec;

namespace ApprovalBot.Sandbox.Validation;

/// <summary>The parameters of a call after the spec check: values normalised to JSON whatever the wire format was.</summary>
internal sealed class ValidatedCall(MethodSpec method, IReadOnlyDictionary<string, JsonNode> values, IReadOnlyDictionary<string, UploadedFile> files)
{
    public MethodSpec Method { get; } = method;

    public bool Has(string name) => values.ContainsKey(name) || files.ContainsKey(name);

    public JsonNode? Node(string name) => values.GetValueOrDefault(name);

    public string? String(string name) => values.GetValueOrDefault(name) is { } node && node.GetValueKind() == JsonValueKind.String
        ? (string?)node
        : values.GetValueOrDefault(name)?.ToJsonString();

    public long? Long(string name) => values.GetValueOrDefault(name) is { } node && node.GetValueKind() == JsonValueKind.Number
        ? node.GetValue<long>()
        : null;

    public bool Bool(string name) => values.GetValueOrDefault(name) is { } node && node.GetValueKind() == JsonValueKind.True;

    public UploadedFile? File(string name) => files.GetValueOrDefault(name);

    /// <summary>A chat_id may be an Integer or a String; a numeric string means the same chat.</summary>
    public long? ChatId(string name = "chat_id") => values.GetValueOrDefault(name) switch
    {
        null => null,
        var node when node.GetValueKind() == JsonValueKind.Number => node.GetValue<long>(),
        var node when long.TryParse((string?)node, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var id) => id,
        _ => long.MinValue,
    };
}
