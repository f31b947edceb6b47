using System.Runtime.InteropServices;
using System.Text.Json;

namespace ApprovalBot.Client;

/// <summary>
/// Levels of objects and arrays in a piece of JSON, itself included (0 for a scalar): how a context is measured against
/// <see cref="ProtocolJson.MaxContextDepth"/>, by approvalctl before it sends one and by the service when it receives one.
/// </summary>
internal static class JsonDepth
{
    /// <summary>
    /// Read without the parser's limit of 64 levels, which would call a deeper text not JSON rather than too deep, and
    /// without recursion, so no depth can exhaust the stack. Throws <see cref="JsonException"/> for text that is not JSON.
    /// </summary>
    public static int Of(ReadOnlySpan<byte> utf8Json)
    {
        var reader = new Utf8JsonReader(utf8Json, new JsonReaderOptions { MaxDepth = int.MaxValue });
        var deepest = 0;
        while (reader.Read())
        {
            if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
            {
                deepest = Math.Max(deepest, reader.CurrentDepth + 1);
            }
        }
        return deepest;
    }

    /// <summary>The same count for a parsed element, over its JSON text as received (no copy of it is made).</summary>
    public static int Of(JsonElement element) => Of(JsonMarshal.GetRawUtf8Value(element));
}
