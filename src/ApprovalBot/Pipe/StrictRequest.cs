using System.Collections;
using System.Globalization;
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
    /// <summary>
    /// A \uD800-style escape without its pair decodes to no valid text: the reader throws rather than guess, and so
    /// would every later write of it (a response, a card), so it is refused wherever it is.
    /// </summary>
    public const string NotValidUnicode = "not valid Unicode text (an unpaired surrogate escape)";

    /// <summary><see cref="NotValidUnicode"/> for an object or array: somewhere inside it, a name or a string.</summary>
    public const string HoldsNotValidUnicode = "holds a name or string that is " + NotValidUnicode;

    /// <summary>
    /// <see cref="NotValidUnicode"/> for a field name of the request or of an object of its contract (<c>draft</c>), told
    /// at that object (<c>$</c> for the request): a name that decodes to no text cannot be spelled in a field path.
    /// </summary>
    public const string NameNotValidUnicode = "has a field name that is " + NotValidUnicode;

    /// <param name="ranges">The integer fields' bounds, named in the message refusing a value of another type.</param>
    public static T Read<T>(JsonElement request, JsonTypeInfo<T> typeInfo, params ReadOnlySpan<IntegerRange> ranges)
    {
        try
        {
            return request.Deserialize(typeInfo) ?? throw new ProtocolException(ErrorCodes.Invalid, "request must be an object");
        }
        catch (JsonException ex)
        {
            throw Describe(ex, request, typeInfo, ranges);
        }
        catch (InvalidOperationException) when (JsonTextCheck.FirstFault(request, null) is { } fault)
        {
            var path = FieldOf(fault.Path);
            throw (path is null ? request : ValueAt(request, path)) is { } value
                ? Unreadable(value, path, typeInfo)
                : new ProtocolException(ErrorCodes.Invalid, fault.Kind == JsonTextFaultKind.UnreadableString ? NotValidUnicode : HoldsNotValidUnicode, path);
        }
    }

    /// <summary>
    /// The refusal of <paramref name="value"/> (at <paramref name="path"/>, null for the request itself) holding text that
    /// is not valid Unicode, worded by where it is: the string itself; a field name of the request or of an object of its
    /// contract, told at that object whichever step of the reading met it; anything else inside a value.
    /// </summary>
    internal static ProtocolException Unreadable(JsonElement value, string? path, JsonTypeInfo root)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            return new ProtocolException(ErrorCodes.Invalid, NotValidUnicode, path);
        }
        if (value.ValueKind == JsonValueKind.Object && HasUnreadableName(value) && TypeAt(root, path) is { } type
            && type != typeof(JsonElement) && root.Options.GetTypeInfo(type).Kind == JsonTypeInfoKind.Object)
        {
            return new ProtocolException(ErrorCodes.Invalid, NameNotValidUnicode, path ?? "$");
        }
        return new ProtocolException(ErrorCodes.Invalid, HoldsNotValidUnicode, path);
    }

    /// <summary>Whether a name of <paramref name="value"/> itself (not of an object inside it) is not valid Unicode.</summary>
    private static bool HasUnreadableName(JsonElement value)
    {
        foreach (var property in value.EnumerateObject())
        {
            try
            {
                _ = property.Name;
            }
            catch (InvalidOperationException)
            {
                return true;
            }
        }
        return false;
    }

    private static ProtocolException Describe(JsonException ex, JsonElement request, JsonTypeInfo typeInfo, ReadOnlySpan<IntegerRange> ranges)
    {
        var path = FieldOf(ex.Path);
        var value = path is null ? request : ValueAt(request, path);
        // Checked first: the reader reports such text as a value it "could not convert", whatever the field's type.
        if (value is { } v && JsonTextCheck.HoldsUnreadableText(v))
        {
            return Unreadable(v, path, typeInfo);
        }
        var message = ex.Message;
        if (message.Contains("could not be mapped to any .NET member", StringComparison.Ordinal))
        {
            // Found in the request: the message and the path quote the name unescaped, so a name with a quote, a space, a
            // dot or none at all was told as another ("unknown field 'it'" for it's) at a garbled field.
            if (FirstUnknownField(request, typeInfo, null) is { } unknown)
            {
                return new ProtocolException(ErrorCodes.Invalid, $"unknown field '{Shorten(unknown.Name)}'", unknown.Field);
            }
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
            // The type the message names is the record declaring the field (source-generated converters report it so),
            // not the field's own: that is looked up in the contract instead.
            return new ProtocolException(ErrorCodes.Invalid, WrongValue(TypeAt(typeInfo, path), value, Range(ranges, path)), path);
        }
        return new ProtocolException(ErrorCodes.Invalid, "does not match the contract", path);
    }

    private static string? FieldOf(string? jsonPath) =>
        string.IsNullOrEmpty(jsonPath) || jsonPath == "$" ? null : jsonPath.StartsWith("$.", StringComparison.Ordinal) ? jsonPath[2..] : jsonPath;

    /// <summary>
    /// The value at a field path such as <c>draft.id</c>; null where the path is not plain property names, or where the
    /// lookup passed a name that is no valid Unicode (it decodes each name it compares, and such a name decodes to none).
    /// </summary>
    private static JsonElement? ValueAt(JsonElement request, string path)
    {
        var current = request;
        foreach (var segment in path.Split('.'))
        {
            try
            {
                if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(segment, out current))
                {
                    return null;
                }
            }
            catch (InvalidOperationException)
            {
                return null;
            }
        }
        return current;
    }

    /// <summary>
    /// The first name in document order that the contract does not know, as the reader meets them (into the fields that
    /// are contracts themselves, such as <c>draft</c>), with its field path; null if there is none or a name before it
    /// is no valid Unicode.
    /// </summary>
    private static (string Name, string Field)? FirstUnknownField(JsonElement value, JsonTypeInfo info, string? path)
    {
        if (value.ValueKind != JsonValueKind.Object || info.Kind != JsonTypeInfoKind.Object)
        {
            return null;
        }
        foreach (var property in value.EnumerateObject())
        {
            string name;
            try
            {
                name = property.Name;
            }
            catch (InvalidOperationException)
            {
                return null;
            }
            var field = path is null ? name : $"{path}.{name}";
            var known = info.Properties.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.Ordinal));
            if (known is null)
            {
                return (name, field);
            }
            if (FirstUnknownField(property.Value, info.Options.GetTypeInfo(known.PropertyType), field) is { } inner)
            {
                return inner;
            }
        }
        return null;
    }

    /// <summary>A name from the request as an error message quotes it: at most 64 characters (the field gives it in full).</summary>
    internal static string Shorten(string value) => value.Length <= 64 ? value : value[..64] + "…";

    /// <summary>The declared type of the field at <paramref name="path"/>, through the contract's metadata; null if it has none.</summary>
    private static Type? TypeAt(JsonTypeInfo root, string? path)
    {
        if (path is null)
        {
            return root.Type;
        }
        var info = root;
        Type? type = null;
        foreach (var segment in path.Split('.'))
        {
            if (type is not null)
            {
                info = root.Options.GetTypeInfo(type);
            }
            type = info.Properties.FirstOrDefault(p => string.Equals(p.Name, segment, StringComparison.Ordinal))?.PropertyType;
            if (type is null)
            {
                return null;
            }
        }
        return type;
    }

    private static IntegerRange? Range(ReadOnlySpan<IntegerRange> ranges, string? path)
    {
        foreach (var range in ranges)
        {
            if (string.Equals(range.Field, path, StringComparison.Ordinal)) return range;
        }
        return null;
    }

    private static string WrongValue(Type? declared, JsonElement? value, IntegerRange? range)
    {
        var type = declared is null ? null : Nullable.GetUnderlyingType(declared) ?? declared;
        if ((type == typeof(int) || type == typeof(long)) && value is { ValueKind: JsonValueKind.Number } number)
        {
            var (min, max) = range is { } r ? (r.Min, r.Max) : type == typeof(int) ? (int.MinValue, int.MaxValue) : (long.MinValue, long.MaxValue);
            var bounds = $"between {min.ToString(CultureInfo.InvariantCulture)} and {max.ToString(CultureInfo.InvariantCulture)}";
            // A number, but not one the field's type holds: written with a fraction or an exponent (1.5, 1e3, 1000.0), or
            // too large (then the same words as a value out of range).
            return number.GetRawText().AsSpan().IndexOfAny('.', 'e', 'E') >= 0
                ? $"must be an integer {bounds} (no fraction or exponent)"
                : $"must be {bounds}";
        }
        return "wrong type: expected " + Expected(type, range);
    }

    private static string Expected(Type? type, IntegerRange? range) => type switch
    {
        null => "another type",
        _ when type == typeof(string) => "a string",
        _ when type == typeof(int) || type == typeof(long) => range is { } r
            ? $"an integer between {r.Min.ToString(CultureInfo.InvariantCulture)} and {r.Max.ToString(CultureInfo.InvariantCulture)}"
            : "an integer",
        _ when type == typeof(bool) => "a boolean (true or false)",
        _ when type == typeof(JsonElement) => "a JSON value",
        _ when type.IsArray || typeof(IEnumerable).IsAssignableFrom(type) => "an array",
        _ => "an object",
    };

    [GeneratedRegex("'([^']+)'")]
    private static partial Regex Quoted();
}
