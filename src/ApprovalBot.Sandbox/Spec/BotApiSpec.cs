using System.Text.Json;
using System.Text.RegularExpressions;

namespace ApprovalBot.Sandbox.Spec;

/// <summary>The embedded machine-readable Bot API spec; the single source of what a call may contain.</summary>
internal sealed partial class BotApiSpec
{
    private static readonly Lazy<BotApiSpec> Embedded = new(LoadEmbedded);

    private readonly Dictionary<string, MethodSpec> _methods;
    private readonly Dictionary<string, TypeSpec> _types;

    private BotApiSpec(string version, Dictionary<string, MethodSpec> methods, Dictionary<string, TypeSpec> types)
    {
        Version = version;
        _methods = methods;
        _types = types;
    }

    public static BotApiSpec Instance => Embedded.Value;

    public string Version { get; }

    public IEnumerable<MethodSpec> Methods => _methods.Values;

    /// <summary>Telegram matches method names case-insensitively, so lookups do too.</summary>
    public MethodSpec? FindMethod(string name) => _methods.GetValueOrDefault(name);

    public TypeSpec? FindType(string name) => _types.GetValueOrDefault(name);

    private static BotApiSpec LoadEmbedded()
    {
        using var stream = typeof(BotApiSpec).Assembly.GetManifestResourceStream("bot-api.json")
            ?? throw new InvalidOperationException("The embedded resource bot-api.json is missing from the sandbox assembly.");
        using var document = JsonDocument.Parse(stream);
        var root = document.RootElement;

        var methods = new Dictionary<string, MethodSpec>(StringComparer.OrdinalIgnoreCase);
        foreach (var method in root.GetProperty("methods").EnumerateObject())
        {
            var name = method.Value.GetProperty("name").GetString()!;
            methods[name] = new MethodSpec(name, ReadFields(method.Value));
        }

        var types = new Dictionary<string, TypeSpec>(StringComparer.Ordinal);
        foreach (var type in root.GetProperty("types").EnumerateObject())
        {
            var name = type.Value.GetProperty("name").GetString()!;
            var fields = ReadFields(type.Value);
            var subtypes = type.Value.TryGetProperty("subtypes", out var s)
                ? s.EnumerateArray().Select(e => e.GetString()!).ToArray()
                : [];
            var (field, discriminator) = FindDiscriminator(fields);
            types[name] = new TypeSpec(name, fields, subtypes, discriminator, field);
        }

        var version = root.TryGetProperty("version", out var v) ? v.GetString() ?? "?" : "?";
        return new BotApiSpec(version, methods, types);
    }

    private static FieldSpec[] ReadFields(JsonElement owner) =>
        owner.TryGetProperty("fields", out var fields)
            ? fields.EnumerateArray().Select(f => new FieldSpec(
                f.GetProperty("name").GetString()!,
                f.GetProperty("types").EnumerateArray().Select(t => t.GetString()!).ToArray(),
                f.GetProperty("required").GetBoolean(),
                f.TryGetProperty("description", out var d) ? d.GetString() ?? "" : "")).ToArray()
            : [];

    /// <summary>
    /// The field whose fixed value ("always …", "must be …") tells a union's subtypes apart, and that value: "type" for most
    /// unions, "status" for ChatMember's (a my_chat_member update's old and new member).
    /// </summary>
    private static (string Field, string? Value) FindDiscriminator(IReadOnlyList<FieldSpec> fields)
    {
        foreach (var name in DiscriminatorFields)
        {
            var field = fields.FirstOrDefault(f => f.Name == name && f.Types is ["String"]);
            var match = field is null ? null : DiscriminatorPattern().Match(field.Description);
            if (match is { Success: true })
            {
                return (name, match.Groups[1].Value);
            }
        }

        return ("type", null);
    }

    private static readonly string[] DiscriminatorFields = ["type", "status"];

    [GeneratedRegex("""(?:must be|always)\s+["“]?([a-z_]+)""")]
    private static partial Regex DiscriminatorPattern();
}
