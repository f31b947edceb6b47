using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;
using ApprovalBot.Client;

namespace ApprovalBot.Pipe;

/// <summary>
/// Reads a request into its contract record with the strict protocol options and turns each way it can
/// fail into an <c>invalid</c> error naming the field at fault.
/// </summary>
internal static partial class StrictRequest
{
    public static T Read<T>(JsonElement request, JsonTypeInfo<T> typeInfo)
    {
        try
        {
            return request.Deserialize(typeInfo) ?? throw new ProtocolException(ErrorCodes.Invalid, "request must be an object");
        }
        catch (JsonException ex)
        {
            throw Describe(ex);
        }
        catch (InvalidOperationException) when (FirstUnreadableString(request, null) is { } field)
        {
            // A \uD800-style escape without its pair decodes to no valid text; the reader throws rather than guess.
            throw new ProtocolException(ErrorCodes.Invalid, "not valid Unicode text (an unpaired surrogate escape)", field);
        }
    }

    private static string? FirstUnreadableString(JsonElement element, string? path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                try
                {
                    element.GetString();
                    return null;
                }
                catch (InvalidOperationException)
                {
                    return path ?? "$";
                }
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (FirstUnreadableString(property.Value, path is null ? property.Name : $"{path}.{property.Name}") is { } found) return found;
                }
                return null;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (FirstUnreadableString(item, $"{path}[{i++}]") is { } found) return found;
                }
                return null;
            default:
                return null;
        }
    }

    private static ProtocolException Describe(JsonException ex)
    {
        var path = FieldOf(ex.Path);
        var message = ex.Message;
        if (message.Contains("could not be mapped to any .NET member", StringComparison.Ordinal))
        {
            var name = Quoted().Match(message).Groups[1].Value;
            var field = path is null ? name : path.EndsWith(name, StringComparison.Ordinal) ? path : $"{path}.{name}";
            return new ProtocolException(ErrorCodes.Invalid, $"unknown field '{name}'", field);
        }
        if (message.Contains("missing required properties", StringComparison.Ordinal))
        {
            var names = Quoted().Matches(message).Select(m => m.Groups[1].Value).Where(n => !n.Contains('.', StringComparison.Ordinal)).ToList();
            var first = names.LastOrDefault() ?? "?";
            return new ProtocolException(ErrorCodes.Invalid, $"required field '{first}' is missing", path is null ? first : $"{path}.{first}");
        }
        if (message.Contains("doesn't allow", StringComparison.Ordinal) && message.Contains("null", StringComparison.Ordinal))
        {
            return new ProtocolException(ErrorCodes.Invalid, "must not be null", path);
        }
        if (message.Contains("Duplicate", StringComparison.OrdinalIgnoreCase))
        {
            return new ProtocolException(ErrorCodes.Invalid, "duplicate field", path);
        }
        if (message.Contains("could not be converted to", StringComparison.Ordinal))
        {
            var target = ConvertedTo().Match(message).Groups[1].Value;
            return new ProtocolException(ErrorCodes.Invalid, $"wrong type: expected {Describe(target)}", path);
        }
        return new ProtocolException(ErrorCodes.Invalid, "does not match the contract", path);
    }

    private static string? FieldOf(string? jsonPath) =>
        string.IsNullOrEmpty(jsonPath) || jsonPath == "$" ? null : jsonPath.StartsWith("$.", StringComparison.Ordinal) ? jsonPath[2..] : jsonPath;

    private static string Describe(string clrType) => clrType switch
    {
        _ when clrType.Contains("String", StringComparison.Ordinal) => "a string",
        _ when clrType.Contains("Int32", StringComparison.Ordinal) || clrType.Contains("Int64", StringComparison.Ordinal) => "an integer",
        _ when clrType.Contains("Boolean", StringComparison.Ordinal) => "true or false",
        _ when clrType.Contains("JsonElement", StringComparison.Ordinal) => "a JSON value",
        _ => "an object",
    };

    [GeneratedRegex("'([^']+)'")]
    private static partial Regex Quoted();

    [GeneratedRegex(@"converted to ([^\s.]+(?:\.[^\s.]+)*)")]
    private static partial Regex ConvertedTo();
}
