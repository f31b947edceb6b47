using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.CommandLine;
using Microsoft.Extensions.Configuration.EnvironmentVariables;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.FileProviders;

namespace ApprovalBot.Hosting;

/// <summary>
/// The sources of the configuration one by one, in the order they are read (the JSON file, the environment, the command
/// line). The merged view shows a key's value from the last source that gives one and the keys below it from every
/// source, so a value one source gives where another fills a group or a list (<c>Approvers=777</c> over the file's
/// <c>[1001]</c>) looked like a group there, and the binder passed over it; only the sources show it, and where it came from.
/// </summary>
internal sealed class ConfigurationLayers(IReadOnlyList<IConfigurationProvider> sources)
{
    public static ConfigurationLayers Of(IConfiguration configuration) =>
        new(configuration is IConfigurationRoot root ? [.. root.Providers] : [.. new ConfigurationBuilder().AddConfiguration(configuration).Build().Providers]);

    /// <summary>The sources in the order they are read (a later one wins).</summary>
    public IReadOnlyList<IConfigurationProvider> Sources => sources;

    /// <summary>The values the sources give the key itself, empty ones too (a JSON null, <c>[]</c> or <c>{}</c> is null).</summary>
    public IEnumerable<(IConfigurationProvider Source, string Value)> ValuesOf(string path)
    {
        foreach (var source in sources)
        {
            if (source.TryGet(path, out var value) && value is not null)
            {
                yield return (source, value);
            }
        }
    }

    /// <summary>Whether <paramref name="source"/> has the key with no value: a JSON null, <c>[]</c> or <c>{}</c>.</summary>
    public static bool GivesNull(IConfigurationProvider source, string path) => source.TryGet(path, out var value) && value is null && !KeysBelow(source, path).Any();

    /// <summary>
    /// Whether <paramref name="source"/>, a JSON file, gives the key a JSON null. Its reader makes <c>{}</c> and <c>[]</c> a
    /// key with no value too, and an empty group is as good as one left out: only the file itself tells them apart.
    /// </summary>
    public static bool GivesJsonNull(IConfigurationProvider source, string path)
    {
        if (!GivesNull(source, path) || source is not JsonConfigurationProvider { Source: { FileProvider: { } files, Path: { } file } })
        {
            return false;
        }
        try
        {
            using var stream = files.GetFileInfo(file).CreateReadStream();
            using var json = JsonDocument.Parse(stream, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            var element = json.RootElement;
            foreach (var segment in path.Split(ConfigurationPath.KeyDelimiter))
            {
                if (Below(element, segment) is not { } next)
                {
                    return false;
                }
                element = next;
            }
            return element.ValueKind == JsonValueKind.Null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            // Read once already by the configuration: changed since, it is not this start's to judge.
            return false;
        }
    }

    /// <summary>The value a key segment names in <paramref name="element"/>, matched as the configuration matches keys (in any case).</summary>
    private static JsonElement? Below(JsonElement element, string segment)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            JsonElement? found = null;
            foreach (var property in element.EnumerateObject())
            {
                if (string.Equals(property.Name, segment, StringComparison.OrdinalIgnoreCase))
                {
                    found = property.Value;
                }
            }
            return found;
        }
        return element.ValueKind == JsonValueKind.Array && int.TryParse(segment, NumberStyles.None, CultureInfo.InvariantCulture, out var index)
            && index < element.GetArrayLength() ? element[index] : null;
    }

    /// <summary>The keys <paramref name="source"/> gives right below the key.</summary>
    public static IEnumerable<string> KeysBelow(IConfigurationProvider source, string path) =>
        source.GetChildKeys([], path).Distinct(StringComparer.OrdinalIgnoreCase);

    /// <summary>The sources that give keys below the key.</summary>
    public IEnumerable<IConfigurationProvider> WithKeysBelow(string path) => sources.Where(s => KeysBelow(s, path).Any());

    /// <summary>The items <paramref name="source"/> gives a list, by index (keys below it that are no index are not items).</summary>
    public static SortedDictionary<int, string?> ItemsOf(IConfigurationProvider source, string path)
    {
        var items = new SortedDictionary<int, string?>();
        foreach (var key in KeysBelow(source, path))
        {
            if (int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out var index))
            {
                source.TryGet(ConfigurationPath.Combine(path, key), out var value);
                items[index] = value;
            }
        }
        return items;
    }

    /// <summary>Where a key of <paramref name="source"/> was given: "on the command line", "in the environment variable …", "in &lt;file&gt;".</summary>
    public static string Where(IConfigurationProvider source, string path) => source is EnvironmentVariablesConfigurationProvider
        ? $"in the environment variable {path.Replace(":", "__", StringComparison.Ordinal)}"
        : Where(source);

    /// <summary>Where <paramref name="source"/>'s keys come from: "on the command line", "in the environment", "in &lt;file&gt;".</summary>
    public static string Where(IConfigurationProvider source) => source switch
    {
        CommandLineConfigurationProvider => "on the command line",
        EnvironmentVariablesConfigurationProvider => "in the environment",
        FileConfigurationProvider { Source: var file } => $"in {(file.FileProvider is PhysicalFileProvider physical ? Path.Combine(physical.Root, file.Path ?? "") : file.Path)}",
        _ => $"in {source}",
    };

    /// <summary>Where several sources give keys, as in "the settings below it in x and on the command line".</summary>
    public static string Where(IEnumerable<IConfigurationProvider> given) => string.Join(" and ", given.Select(Where));
}
