using System.Text.Json;

namespace ApprovalBot.Client;

/// <summary>
/// Finds names and strings in a JSON value that are not valid Unicode: a \uD800-style escape without its pair is
/// valid JSON but decodes to no text, and every later write of it (a response, a request line, a card) fails. One
/// walker for the service (requests, stored contexts) and <c>approvalctl</c> (<c>--context-json</c>), so both refuse
/// the same values.
/// </summary>
public static class JsonTextCheck
{
    /// <summary>Whether a name or string anywhere in <paramref name="element"/> is not valid Unicode.</summary>
    public static bool HoldsUnreadableText(JsonElement element) => FirstFault(element, "") is not null;

    /// <summary>
    /// The first fault in document order, or null. Paths start at <paramref name="path"/>: a property is
    /// <c>path.name</c> (just <c>name</c> while the path is empty or null), an item <c>path[i]</c>; a fault at a
    /// null path is reported at <c>$</c>.
    /// </summary>
    /// <param name="repeatedNames">Also report an object that has a name twice.</param>
    public static JsonTextFault? FirstFault(JsonElement element, string? path, bool repeatedNames = false)
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
                    return new JsonTextFault(JsonTextFaultKind.UnreadableString, path ?? "$");
                }
            case JsonValueKind.Object:
                var names = repeatedNames ? new HashSet<string>(StringComparer.Ordinal) : null;
                foreach (var property in element.EnumerateObject())
                {
                    string name;
                    try
                    {
                        name = property.Name;
                    }
                    catch (InvalidOperationException)
                    {
                        return new JsonTextFault(JsonTextFaultKind.UnreadableName, path ?? "$");
                    }
                    if (names is not null && !names.Add(name))
                    {
                        return new JsonTextFault(JsonTextFaultKind.RepeatedName, path ?? "$", name);
                    }
                    if (FirstFault(property.Value, string.IsNullOrEmpty(path) ? name : $"{path}.{name}", repeatedNames) is { } found) return found;
                }
                return null;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (FirstFault(item, $"{path}[{i++}]", repeatedNames) is { } found) return found;
                }
                return null;
            default:
                return null;
        }
    }
}
