using System.Text.Json;

namespace ApprovalBot.Sandbox.Validation;

/// <summary>A parameter as it arrived, before the spec says what it means: the wire format decides how strict a type check can be.</summary>
internal abstract record RawParameter
{
    /// <summary>From the query string, a urlencoded form or a multipart text part: everything is a string on the wire.</summary>
    public sealed record Text(string Value) : RawParameter;

    /// <summary>A property of a JSON body: its JSON kind must match the spec type.</summary>
    public sealed record Json(JsonElement Value) : RawParameter;

    /// <summary>A multipart file part.</summary>
    public sealed record File(string FileName, string? ContentType, byte[] Content) : RawParameter;

    /// <summary>How the call log shows the value: never the file bytes.</summary>
    public string Display() => this switch
    {
        Text t => t.Value,
        Json { Value.ValueKind: JsonValueKind.String } j => j.Value.GetString() ?? "",
        Json j => j.Value.GetRawText(),
        File f => $"<file {f.FileName}, {f.Content.Length} bytes>",
        _ => "",
    };
}
