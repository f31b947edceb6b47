using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalBot.Sandbox.Spec;

namespace ApprovalBot.Sandbox.Validation;

/// <summary>
/// Checks a JSON value against a spec type expression ("Integer", "Array of Array of InlineKeyboardButton",
/// "InlineKeyboardMarkup", ...). Returns the refusal text (after "Bad Request: ") or null when the value fits.
/// Strict on purpose: unknown fields and nulls are refused although Telegram would ignore them,
/// because the sandbox exists to catch our client sending what the spec does not describe.
/// </summary>
internal sealed class JsonShapeChecker(BotApiSpec spec)
{
    private const string ArrayPrefix = "Array of ";

    public string? Check(JsonNode? node, IReadOnlyList<string> types, string path)
    {
        if (types.Count == 1)
        {
            return CheckOne(node, types[0], path);
        }

        var errors = new List<(string Type, string Error)>();
        foreach (var type in types)
        {
            var error = CheckOne(node, type, path);
            if (error is null)
            {
                return null;
            }

            errors.Add((type, error));
        }

        // For an object against a union of object types, the candidate sharing the most field names
        // is what the caller meant; its specific complaint is more useful than "expected A or B".
        if (node is JsonObject obj)
        {
            var best = errors
                .Select(e => (e.Error, Score: OverlapScore(obj, e.Type)))
                .OrderByDescending(e => e.Score)
                .First();
            if (best.Score > 0)
            {
                return best.Error;
            }
        }

        return WrongType(path, types);
    }

    public static string WrongType(string path, IReadOnlyList<string> types) =>
        $"wrong type of {path}: expected {string.Join(" or ", types)}";

    private string? CheckOne(JsonNode? node, string type, string path)
    {
        if (node is null)
        {
            return $"{path} must not be null";
        }

        if (type.StartsWith(ArrayPrefix, StringComparison.Ordinal))
        {
            return CheckArray(node, type[ArrayPrefix.Length..], path);
        }

        var kind = node.GetValueKind();
        return type switch
        {
            "Integer" => kind == JsonValueKind.Number && node.AsValue().TryGetValue<long>(out _) ? null : WrongType(path, [type]),
            "Float" => kind == JsonValueKind.Number ? null : WrongType(path, [type]),
            "String" => kind == JsonValueKind.String ? null : WrongType(path, [type]),
            "Boolean" => kind is JsonValueKind.True or JsonValueKind.False ? null : WrongType(path, [type]),
            "InputFile" => $"{path}: a file can only be uploaded with multipart/form-data",
            _ => CheckObject(node, type, path),
        };
    }

    private string? CheckArray(JsonNode node, string elementType, string path)
    {
        if (node is not JsonArray array)
        {
            return WrongType(path, [ArrayPrefix + elementType]);
        }

        for (var i = 0; i < array.Count; i++)
        {
            var error = CheckOne(array[i], elementType, $"{path}[{i}]");
            if (error is not null)
            {
                return error;
            }
        }

        return null;
    }

    private string? CheckObject(JsonNode node, string typeName, string path)
    {
        if (node is not JsonObject obj)
        {
            return WrongType(path, [typeName]);
        }

        var type = spec.FindType(typeName);
        if (type is null)
        {
            // Types the spec names but does not describe (CallbackGame) carry no fields to check.
            return null;
        }

        if (type.IsAbstract)
        {
            return CheckAbstract(obj, type, path);
        }

        foreach (var (key, value) in obj)
        {
            var field = type.Field(key);
            if (field is null)
            {
                return $"unknown field {path}.{key} in {typeName}";
            }

            var error = Check(value, field.Types, $"{path}.{key}");
            if (error is not null)
            {
                return error;
            }
        }

        var missing = type.Fields.FirstOrDefault(f => f.Required && !obj.ContainsKey(f.Name));
        if (missing is not null)
        {
            return $"{path}.{missing.Name} is required in {typeName}";
        }

        if (type.Discriminator is { } expected && (obj[type.DiscriminatorField] is not JsonValue tag || !tag.TryGetValue<string>(out var actual) || actual != expected))
        {
            return $"{path}.{type.DiscriminatorField} must be \"{expected}\" in {typeName}";
        }

        return TypeRules.Check(obj, type, path);
    }

    private string? CheckAbstract(JsonObject obj, TypeSpec type, string path)
    {
        var subtypes = type.Subtypes.Select(spec.FindType).ToArray();
        var field = subtypes.FirstOrDefault(t => t?.Discriminator is not null)?.DiscriminatorField ?? "type";
        var discriminator = obj[field]?.GetValueKind() == JsonValueKind.String ? (string?)obj[field] : null;
        var subtype = subtypes.FirstOrDefault(t => t is not null && t.Discriminator is not null && t.Discriminator == discriminator);
        if (subtype is not null)
        {
            return CheckObject(obj, subtype.Name, path);
        }

        if (subtypes.All(t => t?.Discriminator is not null))
        {
            return $"{path}.{field} is not a valid {type.Name} {field}";
        }

        return Check(obj, type.Subtypes, path);
    }

    private int OverlapScore(JsonObject obj, string typeName)
    {
        var type = spec.FindType(typeName);
        return type is null ? 0 : obj.Count(p => type.Field(p.Key) is not null);
    }
}
