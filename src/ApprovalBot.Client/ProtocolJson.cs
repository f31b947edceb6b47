using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Schema;
using System.Text.Json.Serialization;

namespace ApprovalBot.Client;

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true,
    AllowDuplicateProperties = false)]
[JsonSerializable(typeof(PingRequest))]
[JsonSerializable(typeof(SubmitRequest))]
[JsonSerializable(typeof(GetRequest))]
[JsonSerializable(typeof(WaitRequest))]
[JsonSerializable(typeof(ListRequest))]
[JsonSerializable(typeof(ReportRequest))]
[JsonSerializable(typeof(ClaimRequest))]
[JsonSerializable(typeof(CompleteRequest))]
[JsonSerializable(typeof(FailRequest))]
[JsonSerializable(typeof(CancelRequest))]
[JsonSerializable(typeof(Response))]
public sealed partial class ProtocolJsonContext : JsonSerializerContext;

/// <summary>
/// The serializer settings of protocol v1. Requests are read strictly (unknown fields refused, required
/// members required, no null where the contract has none); responses are read leniently so that a newer
/// service can add fields without breaking an older client.
/// </summary>
public static class ProtocolJson
{
    /// <summary>Reading requests on the receiving side, and writing responses.</summary>
    public static JsonSerializerOptions Strict { get; } = ProtocolJsonContext.Default.Options;

    /// <summary>
    /// Writing requests: <see cref="Strict"/> with <see cref="JsonLinesEncoder"/>, which escapes only quote, backslash,
    /// control characters and U+2028/U+2029 and writes every other character as UTF-8 (the service measures text and
    /// context as received).
    /// </summary>
    public static JsonSerializerOptions Requests { get; } = new(ProtocolJsonContext.Default.Options) { Encoder = JsonLinesEncoder.Instance };

    /// <summary>The request contracts bound to <see cref="Requests"/>.</summary>
    internal static ProtocolJsonContext RequestContext { get; } = new(Requests);

    /// <summary>
    /// How the service writes its responses: escaped as requests are (<see cref="JsonLinesEncoder"/>), so a draft's
    /// text comes back as it went, "é" as 2 bytes rather than <c>\u00E9</c>, and <c>approvalctl --json</c> prints it readably.
    /// </summary>
    public static ProtocolJsonContext Responses => RequestContext;

    /// <summary>Reading responses in a client.</summary>
    public static JsonSerializerOptions Lenient { get; } = new(ProtocolJsonContext.Default.Options)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
        RespectNullableAnnotations = false,
        RespectRequiredConstructorParameters = false,
    };

    /// <summary>The characters a draft id may use, 1–200 of them, without anchors.</summary>
    public const string IdCharacters = "[A-Za-z0-9:_\\-./@]{1,200}";

    /// <summary>
    /// The id rule as the JSON Schema publishes it: an ECMA-262 regex, where <c>$</c> (no multiline flag) is the end
    /// of the input.
    /// </summary>
    public const string IdPattern = "^" + IdCharacters + "$";

    /// <summary>
    /// The same rule for .NET's <see cref="System.Text.RegularExpressions.Regex"/>, which the service checks with.
    /// There <c>$</c> also matches before a final "\n", so <c>reply:a\n</c> would pass; <c>\z</c> is the end of the
    /// input, as <c>$</c> is in <see cref="IdPattern"/>.
    /// </summary>
    public const string IdPatternDotNet = "^" + IdCharacters + "\\z";

    /// <summary>
    /// "Some visible character" as a JSON Schema pattern (ECMA-262, unanchored: some character outside the class): the
    /// class is exactly the characters of the Basic Multilingual Plane the service counts as invisible (whitespace as
    /// .NET's <see cref="char.IsWhiteSpace(char)"/> counts it, control and format characters, the other
    /// default-ignorable code points, the blank Braille pattern), which it refuses an <c>agent</c> or <c>text</c> made
    /// only of. Beyond the BMP the pattern is more lenient than the service: there it takes every character as visible
    /// (a regex without the <c>u</c> flag sees two surrogates), an invisible one too (a tag character, U+E0020..U+E007F).
    /// </summary>
    public const string VisiblePattern =
        "[^\\u0000-\\u0020\\u007f-\\u00a0\\u00ad\\u034f\\u0600-\\u0605\\u061c\\u06dd\\u070f\\u0890\\u0891\\u08e2\\u115f\\u1160\\u1680" +
        "\\u17b4\\u17b5\\u180b-\\u180f\\u2000-\\u200f\\u2028-\\u202f\\u205f-\\u206f\\u2800\\u3000\\u3164\\ufe00-\\ufe0f\\ufeff\\uffa0\\ufff0-\\ufffb]";

    /// <summary>The control characters the service refuses in a <c>text</c>: all of them (Cc: C0, DEL, C1) but tab, LF and CR (a schema's <c>not</c> pattern).</summary>
    public const string TextControlPattern = "[\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]";

    /// <summary>
    /// What the service refuses in an <c>agent</c>, a one-line name: every control character (Cc), the line and paragraph
    /// separators (U+2028, U+2029: Telegram shows them as line breaks), and the bidirectional embeddings, overrides and isolates.
    /// </summary>
    public const string AgentControlPattern = "[\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069]";

    /// <summary>The former name of <see cref="VisiblePattern"/>, which refused only whitespace.</summary>
    [Obsolete("Use VisiblePattern: the service now also refuses a value made only of invisible characters.")]
    public const string NotBlankPattern = VisiblePattern;

    /// <summary>Most UTF-16 code units of <c>agent</c> (an emoji counts two).</summary>
    public const int MaxAgentLength = 200;

    /// <summary>Most UTF-16 code units of a <c>cancel</c>'s <c>reason</c> (an emoji counts two).</summary>
    public const int MaxReasonLength = 500;

    /// <summary>
    /// Most levels of objects and arrays a submit's <c>context</c> may nest, itself included; a deeper one is refused
    /// <c>invalid</c>. The answers nest it deepest in a list or a claim (answer, array, draft, context): one level more
    /// and the protocol's 64 levels, its reading limit (also in <see cref="Lenient"/>), are exceeded.
    /// </summary>
    public const int MaxContextDepth = 61;

    /// <summary>The JSON Schema of the submit request, generated from the contract records.</summary>
    public static JsonNode SubmitRequestSchema()
    {
        var exporter = new JsonSchemaExporterOptions
        {
            TreatNullObliviousAsNonNullable = true,
            TransformSchemaNode = static (context, node) =>
            {
                // JsonElement exports as the boolean schema `true`; the contract says an object (or null).
                if (context.PropertyInfo is { Name: "context" } c && c.DeclaringType == typeof(DraftSubmission))
                {
                    return new JsonObject { ["type"] = new JsonArray("object", "null"), ["description"] = "Shown on the card: rationale, source_url. At most Pipe:MaxContextBytes bytes of JSON as sent." };
                }
                if (node is not JsonObject obj) return node;
                if (context.PropertyInfo is { } property && property.DeclaringType == typeof(DraftSubmission))
                {
                    switch (property.Name)
                    {
                        case "id": obj["pattern"] = IdPattern; break;
                        case "kind": obj["minLength"] = 1; obj["description"] = "A kind configured under ApprovalBot:Kinds."; break;
                        case "agent":
                            // maxLength counts code points, the service UTF-16 code units: equal but for characters beyond U+FFFF.
                            obj["minLength"] = 1;
                            obj["maxLength"] = MaxAgentLength;
                            obj["pattern"] = VisiblePattern;
                            obj["not"] = new JsonObject { ["pattern"] = AgentControlPattern };
                            obj["description"] = "Who drafted it: a one-line name with a visible character and no control characters; at most 200 UTF-16 code units (a character beyond U+FFFF, such as an emoji, counts 2).";
                            break;
                        case "text":
                            obj["minLength"] = 1;
                            obj["pattern"] = VisiblePattern;
                            obj["not"] = new JsonObject { ["pattern"] = TextControlPattern };
                            obj["description"] = "Not only whitespace and invisible (control or format) characters; no control characters but tab, line feed and carriage return; at most the kind's MaxLength characters (Unicode code points).";
                            break;
                    }
                }
                if (context.PropertyInfo is { Name: "op" } && context.PropertyInfo.DeclaringType == typeof(SubmitRequest))
                {
                    obj["const"] = Ops.Submit;
                }
                return node;
            },
        };
        var schema = Strict.GetJsonSchemaAsNode(typeof(SubmitRequest), exporter);
        if (schema is JsonObject root)
        {
            root["$schema"] = "https://json-schema.org/draft/2020-12/schema";
            root["title"] = "ApprovalBot protocol v1 submit request";
        }
        return schema;
    }
}
