using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalBot.Sandbox.Spec;

namespace ApprovalBot.Sandbox.Validation;

/// <summary>
/// Refuses any call the spec does not allow: unknown parameters, missing required ones, wrong types.
/// Text on the wire (query, form, multipart) is converted by trying the spec's types in order, the way
/// Telegram reads form values; JSON bodies must carry the right JSON kinds.
/// </summary>
internal sealed class CallValidator(JsonShapeChecker checker)
{
    private const string AttachPrefix = "attach://";

    public ValidatedCall Validate(MethodSpec method, IReadOnlyDictionary<string, RawParameter> raw)
    {
        var attached = raw.Values
            .OfType<RawParameter.Text>()
            .Where(t => t.Value.StartsWith(AttachPrefix, StringComparison.Ordinal))
            .Select(t => t.Value[AttachPrefix.Length..])
            .ToHashSet(StringComparer.Ordinal);

        foreach (var name in raw.Keys)
        {
            if (method.Field(name) is null && !(attached.Contains(name) && raw[name] is RawParameter.File))
            {
                throw BotApiException.BadRequest($"unknown parameter {name}");
            }
        }

        var missing = method.Fields.FirstOrDefault(f => f.Required && !raw.ContainsKey(f.Name));
        if (missing is not null)
        {
            throw BotApiException.BadRequest($"{missing.Name} is required");
        }

        var values = new Dictionary<string, JsonNode>(StringComparer.Ordinal);
        var files = new Dictionary<string, UploadedFile>(StringComparer.Ordinal);
        foreach (var field in method.Fields)
        {
            if (!raw.TryGetValue(field.Name, out var value))
            {
                continue;
            }

            switch (value)
            {
                case RawParameter.File file when field.Types.Contains("InputFile"):
                    files[field.Name] = new UploadedFile(file.FileName, file.ContentType, file.Content);
                    break;
                case RawParameter.File:
                    throw BotApiException.BadRequest(JsonShapeChecker.WrongType(field.Name, field.Types));
                case RawParameter.Text text when field.Types.Contains("InputFile") && text.Value.StartsWith(AttachPrefix, StringComparison.Ordinal):
                    files[field.Name] = ResolveAttachment(field.Name, text.Value[AttachPrefix.Length..], raw);
                    break;
                case RawParameter.Text text:
                    values[field.Name] = FromText(field, text.Value);
                    break;
                case RawParameter.Json json:
                    values[field.Name] = FromJson(field, json.Value);
                    break;
            }
        }

        return new ValidatedCall(method, values, files);
    }

    private static UploadedFile ResolveAttachment(string field, string partName, IReadOnlyDictionary<string, RawParameter> raw) =>
        raw.GetValueOrDefault(partName) is RawParameter.File file
            ? new UploadedFile(file.FileName, file.ContentType, file.Content)
            : throw BotApiException.BadRequest($"{field}: file part \"{partName}\" referenced by attach:// was not uploaded");

    private JsonNode FromJson(FieldSpec field, JsonElement element)
    {
        var node = element.ValueKind == JsonValueKind.Null ? null : JsonNode.Parse(element.GetRawText());
        var error = checker.Check(node, field.Types, field.Name);
        return error is null ? node! : throw BotApiException.BadRequest(error);
    }

    private JsonNode FromText(FieldSpec field, string text)
    {
        foreach (var type in field.Types)
        {
            switch (type)
            {
                case "Integer" when long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer):
                    return JsonValue.Create(integer);
                case "Float" when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number):
                    return JsonValue.Create(number);
                case "Boolean" when bool.TryParse(text, out var flag):
                    return JsonValue.Create(flag);
                case "String":
                    return JsonValue.Create(text);
            }
        }

        // Arrays and objects travel as JSON-serialized strings in form bodies.
        var structured = field.Types.Where(t => !IsPrimitive(t)).ToArray();
        if (structured.Length == 0)
        {
            throw BotApiException.BadRequest(JsonShapeChecker.WrongType(field.Name, field.Types));
        }

        JsonNode? parsed;
        try
        {
            parsed = JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            throw BotApiException.BadRequest($"can't parse {field.Name} JSON object");
        }

        var error = checker.Check(parsed, structured, field.Name);
        return error is null ? parsed! : throw BotApiException.BadRequest(error);
    }

    private static bool IsPrimitive(string type) => type is "Integer" or "Float" or "Boolean" or "String" or "InputFile";
}
