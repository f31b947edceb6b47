using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.CommandLine;
using Microsoft.Extensions.Configuration.Json;

namespace ApprovalBot.Hosting;

/// <summary>
/// Keys under <c>ApprovalBot</c> that no setting reads. The binder ignores them, so a misspelt key
/// (<c>Kinds:reply:MaxLenght=10</c>) or a read-only one (<c>Pipe:SocketPath</c>) left the default in force without a
/// word; each is refused at start like a bad value, with the nearest real key when one is close. So are the other keys
/// the binder passes over without an error: a value where a group of settings belongs (<c>Kinds:thread=500</c>), a
/// list given as one value (<c>Telegram:Approvers=777</c>) and a list item of the wrong type (<c>Approvers:0=l001</c>),
/// which left an approver out. Each source is looked at on its own (<see cref="ConfigurationLayers"/>): such a value over a
/// group or a list that another source fills was hidden by it, and the message says where the value came from.
/// </summary>
internal static class UnknownSettings
{
    /// <summary>A group of settings below a key, and how its own keys are checked.</summary>
    private sealed record Group(string Name, Action<IConfigurationSection, Report> Check);

    private static readonly Group[] NoGroups = [];

    /// <summary>The groups below <c>ApprovalBot</c> beside the store's own settings: every other section of <see cref="FeatureSettings"/>.</summary>
    private static readonly Group[] RootGroups = [.. FeatureSettings.All.Where(s => s != FeatureSettings.Store).Select(GroupOf)];

    public static IReadOnlyList<string> Find(IConfiguration configuration)
    {
        var report = new Report(ConfigurationLayers.Of(configuration), []);
        var store = FeatureSettings.Store;
        var section = configuration.GetSection(store.Path);
        // --ApprovalBot=5 or "ApprovalBot": null: the binder passed over either, and the service started on its defaults.
        if (!RefusedAsValue(section, $"the section of the service's settings (such as {store.Path}:DataDirectory=…)", report) && !NullGroup(section, report))
        {
            Check(section, store.Keys, report, RootGroups);
        }
        report.Errors.AddRange(OutsideTheSection(configuration));
        return report.Errors;
    }

    /// <summary>
    /// The failures of <paramref name="failures"/> (a feature's range and shape checks) that are not about a key
    /// <paramref name="errors"/> says has no value: a JSON null binds as 0, "" or null, and the check then said "got 0"
    /// of a value nobody gave, beside the message that says what is wrong.
    /// </summary>
    public static List<string> NotAboutKeysWithoutValue(IEnumerable<string> failures, IReadOnlyList<string> errors) =>
        [.. failures.Where(f => !errors.Any(e => e.StartsWith(f.Split(' ')[0] + " has no value", StringComparison.Ordinal)))];

    /// <summary>The errors found so far, and the sources of the configuration, where a key's values are looked up one by one.</summary>
    private sealed record Report(ConfigurationLayers Layers, List<string> Errors);

    /// <summary>
    /// ApprovalBot's setting names given at the top level, on the command line or in a JSON file
    /// (<c>--DataDirectory=/srv/x</c> for <c>--ApprovalBot:DataDirectory=/srv/x</c>): nothing reads them, and the service
    /// started on its defaults (a new store in ./data) without a word. Only those sources and only these names: the
    /// environment holds every variable of the process, and other top-level keys (Serilog, Logging) belong to others.
    /// </summary>
    private static IEnumerable<string> OutsideTheSection(IConfiguration configuration)
    {
        if (configuration is not IConfigurationRoot root)
        {
            yield break;
        }
        var store = FeatureSettings.Store;
        var names = Settings(store.Keys).Select(p => p.Name).Concat(RootGroups.Select(g => g.Name)).ToList();
        var reported = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var provider in root.Providers.Where(p => p is CommandLineConfigurationProvider or JsonConfigurationProvider))
        {
            foreach (var key in provider.GetChildKeys([], null))
            {
                if (names.FirstOrDefault(n => Matches(n, key)) is { } name && reported.Add(name))
                {
                    var under = RootGroups.Any(g => g.Name == name) ? $"{store.Path}:{name}:…" : $"{store.Path}:{name}";
                    yield return $"{key} is not read: ApprovalBot's settings go under {store.Path} ({under}; on the command line --{under}=…).";
                }
            }
        }
    }

    private static Group GroupOf(SettingsSection section)
    {
        Group[] groups = [.. section.Groups.Select(g => Feature(g.Name, g.Keys))];
        if (section != FeatureSettings.Kinds)
        {
            return new(section.Name, (found, report) => Check(found, section.Keys, report, groups));
        }
        // Any name is a kind; below it, a kind's settings and its executor route.
        return new(section.Name, (kinds, report) =>
        {
            foreach (var kind in kinds.GetChildren())
            {
                var example = string.IsNullOrEmpty(kind.Value) ? "…" : kind.Value;
                if (!RefusedAsValue(kind, $"a kind: give its settings below it (e.g. {kind.Path}:MaxLength={example})", report) && !NullGroup(kind, report))
                {
                    Check(kind, section.Keys, report, groups);
                }
            }
        });
    }

    private static Group Feature(string name, Type type) => new(name, (section, report) => Check(section, type, report, NoGroups));

    private static void Check(IConfigurationSection section, Type type, Report report, Group[] groups)
    {
        var settings = Settings(type);
        var names = settings.Select(p => p.Name).Concat(groups.Select(g => g.Name)).ToList();
        foreach (var child in section.GetChildren())
        {
            if (groups.FirstOrDefault(g => Matches(g.Name, child.Key)) is { } group)
            {
                if (!RefusedAsValue(child, $"a group of settings (such as {child.Path}:…)", report) && !NullGroup(child, report))
                {
                    group.Check(child, report);
                }
                continue;
            }
            var setting = settings.FirstOrDefault(p => Matches(p.Name, child.Key));
            if (setting is null)
            {
                report.Errors.Add(Unknown(child, names));
            }
            else if (IsGroup(setting.PropertyType))
            {
                if (!RefusedAsValue(child, $"a group of settings ({string.Join(", ", Settings(setting.PropertyType).Select(p => p.Name))})", report) && !NullGroup(child, report))
                {
                    Check(child, setting.PropertyType, report, NoGroups);
                }
            }
            else
            {
                CheckValue(child, setting, report);
            }
        }
    }

    /// <summary>
    /// Keys below a single value (Sandbox:RateLimits is on or off, unlike Telegram's group of limits) and a JSON null there;
    /// for a list, a value instead of items, keys below it that are no item, items the binder cannot convert (it leaves
    /// them out of the list) and items that replace only some of another source's.
    /// </summary>
    private static void CheckValue(IConfigurationSection key, PropertyInfo setting, Report report)
    {
        if (setting.PropertyType.GetElementType() is not { } item)
        {
            if (key.GetChildren().FirstOrDefault() is { } below)
            {
                report.Errors.Add($"{below.Path} is not a setting ({setting.Name} takes a single value).");
            }
            else if ((BareNumberDuration(key, setting) ?? HoursAsDays(key, setting) ?? NoValue(key, setting, report.Layers)) is { } error)
            {
                report.Errors.Add(error);
            }
            return;
        }
        ListGivenAsValue(key, report);
        var converter = TypeDescriptor.GetConverter(item);
        var (one, many) = Describe(item);
        foreach (var entry in key.GetChildren())
        {
            if (!int.TryParse(entry.Key, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                // The binder takes any key below a list as an item: {"a": 1001} in a JSON file was a list of one.
                var where = ConfigurationLayers.Where(report.Layers.Sources.Where(s => s.TryGet(entry.Path, out _) || ConfigurationLayers.KeysBelow(s, entry.Path).Any()));
                report.Errors.Add($"{entry.Path} {where} is not an item of a list: {setting.Name} is a list of {many}, its items numbered from 0 ({key.Path}:0=…, {key.Path}:1=…; in a JSON file [ …, … ], not {{ … }}).");
            }
            else if (!Converts(converter, entry.Value))
            {
                report.Errors.Add($"{entry.Path}: '{entry.Value}' is not {one} ({setting.Name} is a list of {many}).");
            }
        }
        ItemsReplacedInPart(key, report);
    }

    /// <summary>
    /// A list given as one value (<c>Approvers=777</c>): the binder passes over it, and over the items another source gives
    /// (<c>"Approvers": [1001]</c> in the file stayed in force). An empty value is no list at all where nothing gives items,
    /// as before; after a source that gives them it cleared nothing.
    /// </summary>
    private static void ListGivenAsValue(IConfigurationSection key, Report report)
    {
        var layers = report.Layers;
        var variable = key.Path.Replace(":", "__", StringComparison.Ordinal);
        foreach (var (source, value) in layers.ValuesOf(key.Path))
        {
            var before = layers.Sources.TakeWhile(s => s != source).Where(s => ConfigurationLayers.ItemsOf(s, key.Path).Count > 0).ToList();
            var itemsElsewhere = layers.WithKeysBelow(key.Path).ToList();
            var where = ConfigurationLayers.Where(source, key.Path);
            if (value.Length == 0)
            {
                if (before.Count > 0)
                {
                    report.Errors.Add($"{key.Path}: an empty value {where} does not empty the list: the items {ConfigurationLayers.Where(before)} stay in force (a list is replaced item by item, never emptied or shortened). Remove them there, or give the items meant in their place ({key.Path}:0=…).");
                }
                continue;
            }
            // A value with spaces is most likely the whole list in one (a command line): each word its own item, as no shell splits it here.
            var words = value.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            var items = words.Length > 1
                ? string.Join(", ", words.Select((w, i) => $"{key.Path}:{i.ToString(CultureInfo.InvariantCulture)}={w}"))
                : $"{key.Path}:0={value}, {key.Path}:1=…";
            var kept = itemsElsewhere.Count > 0 ? $" The items {ConfigurationLayers.Where(itemsElsewhere)} stay in force: a value neither replaces nor removes them." : "";
            report.Errors.Add($"{key.Path} is a list, given as one value ('{value}' {where}): give each item a key of its own, {items} (in the environment {variable}__0=…).{kept}");
        }
    }

    /// <summary>
    /// Items of a list given over another source's that replace only some of them: the configuration overrides a list
    /// item by item, so the file's <c>[1001, 555]</c> under <c>Approvers__0=777</c> became <c>[777, 555]</c>, and 555 stayed
    /// an approver meant to be gone. Items added after another source's, or all of them replaced, are what they look like.
    /// </summary>
    private static void ItemsReplacedInPart(IConfigurationSection key, Report report)
    {
        var inForce = new SortedDictionary<int, (IConfigurationProvider Source, string? Value)>();
        foreach (var source in report.Layers.Sources)
        {
            var items = ConfigurationLayers.ItemsOf(source, key.Path);
            var replaced = inForce.Keys.Where(items.ContainsKey).ToList();
            var kept = inForce.Where(i => !items.ContainsKey(i.Key)).ToList();
            if (replaced.Count > 0 && kept.Count > 0)
            {
                var given = string.Join(", ", items.Select(i => $"{key.Path}:{i.Key.ToString(CultureInfo.InvariantCulture)}={i.Value}"));
                var keptItems = string.Join(", ", kept.Select(i => $"{key.Path}:{i.Key.ToString(CultureInfo.InvariantCulture)}={i.Value.Value} {ConfigurationLayers.Where(i.Value.Source)}"));
                report.Errors.Add($"{key.Path}: the items {ConfigurationLayers.Where(source)} ({given}) replace only some of the list's items; {keptItems} would stay in the list, as a list is replaced item by item, never shortened. Give the whole list in one place: remove it where the other items are, or change it there.");
            }
            foreach (var (index, value) in items)
            {
                inForce[index] = (source, value);
            }
        }
    }

    /// <summary>
    /// A number, duration, true/false or text given no value in a JSON file (<c>"MaxLength": null</c>, <c>"Name": null</c>):
    /// the binder sets a number to its type's zero, and the range check said "got 0" of a value nobody gave; a text was
    /// passed over without a word. Later sources may give it one.
    /// </summary>
    private static string? NoValue(IConfigurationSection key, PropertyInfo setting, ConfigurationLayers layers)
    {
        var type = setting.PropertyType;
        if (!(type == typeof(string) || (type.IsValueType && Nullable.GetUnderlyingType(type) is null)) || key.Value is not null
            || layers.Sources.FirstOrDefault(s => ConfigurationLayers.GivesNull(s, key.Path)) is not { } source)
        {
            return null;
        }
        return $"{key.Path} has no value (null {ConfigurationLayers.Where(source, key.Path)}): give it one, or leave the key out for its default.";
    }

    private static (string One, string Many) Describe(Type item) => Type.GetTypeCode(item) switch
    {
        TypeCode.Int16 or TypeCode.Int32 or TypeCode.Int64 => ("a whole number", "whole numbers"),
        TypeCode.Boolean => ("true or false", "true/false values"),
        _ => ($"a valid {item.Name}", $"{item.Name} values"),
    };

    /// <summary>
    /// A duration whose hours are 24 or more (<c>StaleAfter=24:00:00</c>): .NET reads <c>hh:mm:ss</c> with such hours as
    /// <c>d:hh:mm</c>, so 24:00:00 was 24 days and 48:00:00 48 days, accepted without a word (24:00 and 36:30:00 do not
    /// parse at all). Refused, with the hours written as days.
    /// </summary>
    private static string? HoursAsDays(IConfigurationSection key, PropertyInfo setting)
    {
        if ((Nullable.GetUnderlyingType(setting.PropertyType) ?? setting.PropertyType) != typeof(TimeSpan) || !IsValue(key))
        {
            return null;
        }
        var text = key.Value!.Trim();
        var sign = text.StartsWith('-') ? "-" : "";
        var parts = text[sign.Length..].Split(':');
        if (parts.Length is not (2 or 3) || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var hours) || hours < 24)
        {
            return null;
        }
        var meant = $"{sign}{hours / 24}.{hours % 24:00}:{parts[1]}:{(parts.Length == 3 ? parts[2] : "00")}";
        // Only some such values parse (24:00:00 as 24 days; 24:00 and 36:30:00 not at all), so the message says both.
        return $"{key.Path}: '{key.Value}' has {hours} hours, which .NET reads as days (24:00:00 is 24 days) or not at all; write {meant} for {hours} hours (days go before a dot: [d.]hh:mm:ss, hours 0-23).";
    }

    private static bool Converts(TypeConverter converter, string? value)
    {
        try
        {
            converter.ConvertFromInvariantString(value ?? "");
            return value is not null;
        }
        catch (Exception ex) when (ex is FormatException or NotSupportedException or ArgumentException or OverflowException)
        {
            return false;
        }
    }

    /// <summary>
    /// A duration written as a bare number (<c>StaleAfter=30</c>): .NET reads it as days, so "30" meant as minutes made a
    /// draft stale, or an escalation due again, a month later without a word. Refused, showing how to write each reading
    /// (0 is no duration in any unit: its range check says so).
    /// </summary>
    private static string? BareNumberDuration(IConfigurationSection key, PropertyInfo setting)
    {
        if ((Nullable.GetUnderlyingType(setting.PropertyType) ?? setting.PropertyType) != typeof(TimeSpan)
            || !IsValue(key) || !int.TryParse(key.Value!.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n == 0)
        {
            return null;
        }
        var readings = new List<string> { $"{n}.00:00:00 for {n} days" };
        if (n < 24)
        {
            readings.Add($"{n:00}:00:00 for {n} hours");
        }
        if (n < 60)
        {
            readings.Add($"00:{n:00}:00 for {n} minutes");
        }
        if (n < 86_400)
        {
            // Pipe:LineTimeout is meant in seconds.
            readings.Add($"{TimeSpan.FromSeconds(n).ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture)} for {n} seconds");
        }
        return $"{key.Path}: '{key.Value}' is a number without a unit; write the duration as [d.]hh:mm:ss: {string.Join(", ", readings)}.";
    }

    /// <summary>
    /// A group of settings given a JSON null (<c>"Telegram": null</c>): the binder passed over it, leaving the group's
    /// defaults, or another source's settings, in force without a word. An empty group (<c>{}</c>) is as good as one left
    /// out and is not refused.
    /// </summary>
    private static bool NullGroup(IConfigurationSection key, Report report)
    {
        if (key.Value is not null || key.GetChildren().Any() || report.Layers.Sources.FirstOrDefault(s => ConfigurationLayers.GivesJsonNull(s, key.Path)) is not { } source)
        {
            return false;
        }
        report.Errors.Add($"{key.Path} has no value (null {ConfigurationLayers.Where(source, key.Path)}): give the settings below it, or leave the key out for their defaults.");
        return true;
    }

    /// <summary>
    /// A value where a group of settings belongs (the binder passes over it): refused, saying what belongs there and where
    /// the value came from. Looked up source by source: over a group the JSON file fills, the merged view shows a group.
    /// </summary>
    private static bool RefusedAsValue(IConfigurationSection key, string belongs, Report report)
    {
        var values = report.Layers.ValuesOf(key.Path).ToList();
        if (values.Count == 0)
        {
            return false;
        }
        var below = report.Layers.WithKeysBelow(key.Path).ToList();
        var kept = below.Count > 0 ? $" The settings below it {ConfigurationLayers.Where(below)} stay in force: a value neither replaces nor removes them." : "";
        foreach (var (source, value) in values)
        {
            report.Errors.Add($"{key.Path} is {belongs}, not a value ('{value}' {ConfigurationLayers.Where(source, key.Path)}).{kept}");
        }
        // Below a value the merged view shows only another source's settings, which are checked as usual.
        return below.Count == 0;
    }

    /// <summary>A key that holds a value and nothing below it.</summary>
    private static bool IsValue(IConfigurationSection key) => key.Value is not null && !key.GetChildren().Any();

    /// <summary>What the binder sets: public properties with a public setter (computed ones such as SocketPath are not settings).</summary>
    private static List<PropertyInfo> Settings(Type type) =>
        [.. type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod is { IsPublic: true })];

    /// <summary>A nested group of settings (RateLimits), as opposed to a value or a list of values.</summary>
    private static bool IsGroup(Type type) => type.IsClass && type != typeof(string) && !type.IsArray;

    private static bool Matches(string name, string key) => string.Equals(name, key, StringComparison.OrdinalIgnoreCase);

    private static string Unknown(IConfigurationSection key, IReadOnlyList<string> names)
    {
        var nearest = names
            .Select(n => (Name: n, Distance: Near(n.ToLowerInvariant(), key.Key.ToLowerInvariant())))
            .Where(n => n.Distance <= 2)
            .OrderBy(n => n.Distance)
            .Select(n => n.Name)
            .FirstOrDefault();
        var hint = nearest is null ? $"known here: {string.Join(", ", names)}" : $"did you mean {nearest}?";
        return $"{key.Path} is not a setting ({hint}).";
    }

    /// <summary>A name that begins the key or is begun by it (MaxBatchSize, MaxBatch) is as near as one typo.</summary>
    private static int Near(string name, string key) =>
        Math.Min(Math.Min(name.Length, key.Length) >= 4 && (name.StartsWith(key, StringComparison.Ordinal) || key.StartsWith(name, StringComparison.Ordinal)) ? 1 : int.MaxValue, Distance(name, key));

    /// <summary>Edit distance, for the "did you mean" of a misspelt key.</summary>
    private static int Distance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitution, Math.Min(previous[j] + 1, current[j - 1] + 1));
            }
            previous = current;
        }
        return previous[b.Length];
    }
}
