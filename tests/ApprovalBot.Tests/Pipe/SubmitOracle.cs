using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Text.Unicode;

namespace ApprovalBot.Tests.Pipe;

/// <summary>
/// The submit contract written out independently of the service's validator, as the fuzz test's oracle:
/// a line is a valid submit exactly when this says so.
/// </summary>
internal static partial class SubmitOracle
{
    private static readonly Dictionary<string, int> MaxLength = new(StringComparer.Ordinal) { ["reply"] = 280, ["post"] = 3000 };

    public static string? ValidSubmitId(byte[] line)
    {
        if (!Utf8.IsValid(line)) return null;
        try
        {
            using var doc = JsonDocument.Parse(line, new JsonDocumentOptions { MaxDepth = 64 });
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !HasExactly(root, ["op", "draft"], optional: [])) return null;
            if (root.GetProperty("op").ValueKind != JsonValueKind.String || root.GetProperty("op").GetString() != "submit") return null;
            var draft = root.GetProperty("draft");
            if (draft.ValueKind != JsonValueKind.Object || !HasExactly(draft, ["id", "kind", "agent", "text"], optional: ["context"])) return null;
            foreach (var name in (string[])["id", "kind", "agent", "text"])
            {
                if (draft.GetProperty(name).ValueKind != JsonValueKind.String) return null;
            }
            var id = draft.GetProperty("id").GetString()!;
            var kind = draft.GetProperty("kind").GetString()!;
            var agent = draft.GetProperty("agent").GetString()!;
            var text = draft.GetProperty("text").GetString()!;
            if (!Id().IsMatch(id) || !MaxLength.TryGetValue(kind, out var max)) return null;
            if (string.IsNullOrWhiteSpace(agent) || agent.Length > 200 || string.IsNullOrWhiteSpace(text)) return null;
            if (!Shows(agent) || agent.Any(c => char.IsControl(c) || c is '\u2028' or '\u2029' or (>= '\u202a' and <= '\u202e') or (>= '\u2066' and <= '\u2069'))) return null;
            if (!Shows(text) || text.Any(c => char.IsControl(c) && c is not ('\t' or '\n' or '\r'))) return null;
            if (text.EnumerateRunes().Count() > max) return null;
            if (draft.TryGetProperty("context", out var context) && context.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null)) return null;
            if (context.ValueKind == JsonValueKind.Object && System.Text.Encoding.UTF8.GetByteCount(context.GetRawText()) > 16 * 1024) return null;
            return id;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: an unpaired surrogate escape, which is no valid text.
            return null;
        }
    }

    /// <summary>
    /// Some character an approver sees: not white space, not a control or format character (Cc, Cf), not one of
    /// Unicode's other Default_Ignorable_Code_Point ranges (DerivedCoreProperties.txt), not the blank Braille pattern.
    /// </summary>
    private static bool Shows(string value) => value.EnumerateRunes().Any(r =>
        !Rune.IsWhiteSpace(r)
        && Rune.GetUnicodeCategory(r) is not (UnicodeCategory.Control or UnicodeCategory.Format)
        && !DefaultIgnorable.Any(range => r.Value >= range.First && r.Value <= range.Last)
        && r.Value != 0x2800);

    private static readonly (int First, int Last)[] DefaultIgnorable =
    [
        (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F),
        (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
        (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
    ];

    private static bool HasExactly(JsonElement obj, string[] required, string[] optional)
    {
        var names = obj.EnumerateObject().Select(p => p.Name).ToList();
        return names.Count == names.Distinct(StringComparer.Ordinal).Count()
            && required.All(names.Contains)
            && names.All(n => required.Contains(n) || optional.Contains(n));
    }

    // \z, not $: .NET's $ also matches before a final "\n", which is no id character.
    [GeneratedRegex("\\A[A-Za-z0-9:_\\-./@]{1,200}\\z")]
    private static partial Regex Id();
}
