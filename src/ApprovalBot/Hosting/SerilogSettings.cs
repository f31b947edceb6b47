using System.Reflection;
using Microsoft.Extensions.Configuration;
using Serilog;
using Serilog.Debugging;

namespace ApprovalBot.Hosting;

/// <summary>
/// Serilog's own settings under <c>Serilog</c> (sinks, enrichers, filters, level switches, the assemblies they come
/// from), read into the service's logger while the host is built, before the settings are checked. Serilog threw on
/// some mistakes there (an assembly it cannot load, an argument it cannot convert), which ended the start with a stack
/// trace and no word about any other bad key, and passed over others with a line to its SelfLog, which nothing shows: a
/// misspelt sink (<c>WriteTo:0:Name=Fiel</c>) or one without its required argument logged nowhere, without a word.
/// Each is a bad key now, named and listed with the others (<see cref="HostRun.ValidateConfiguration"/>), and Serilog is
/// left to its defaults until they pass.
/// </summary>
internal static class SerilogSettings
{
    private const string SectionName = "Serilog";

    /// <summary>The sections Serilog.Settings.Configuration reads; it passes over any other key without a word.</summary>
    private static readonly string[] Known = ["Using", "LevelSwitches", "FilterSwitches", "MinimumLevel", "Enrich", "Properties", "Filter", "Destructure", "WriteTo", "AuditTo"];

    /// <summary>The sections whose entries each name a configuration method, and what Serilog calls such a thing.</summary>
    private static readonly Dictionary<string, string> Methods = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Enrich"] = "enricher", ["Filter"] = "filter", ["Destructure"] = "destructuring policy", ["WriteTo"] = "sink", ["AuditTo"] = "audit sink",
    };

    /// <summary>What was wrong in the Serilog section at the start, for the settings check.</summary>
    public sealed record Found(IReadOnlyList<string> Errors);

    private static readonly AsyncLocal<List<string>?> Capture = new();
    private static int _selfLogInstalled;

    /// <summary>
    /// A logger configuration with the Serilog section read into it, or null (Serilog's defaults) with the errors that
    /// section has. <paramref name="levelsValid"/> false (a misspelt level, which <see cref="LoggingSettings"/> reports):
    /// the section is not read, only checked for the rest.
    /// </summary>
    public static (LoggerConfiguration? Configured, IReadOnlyList<string> Errors) Read(IConfiguration configuration, bool levelsValid)
    {
        var serilog = configuration.GetSection(SectionName);
        List<string> errors = [.. Unknown(serilog)];
        if (levelsValid && errors.Count == 0)
        {
            var configured = new LoggerConfiguration();
            var (failure, messages) = Try(() => configured.ReadFrom.Configuration(configuration));
            var unused = PassedOver(serilog);
            if (failure is null && messages.Count == 0 && unused.Count == 0)
            {
                return (configured, []);
            }
            // The sinks it made before it failed are closed (a file it opened, say), as the logger would close them.
            Try(() => configured.CreateLogger().Dispose());
            if (failure is null && messages.Count == 0)
            {
                return (null, unused);
            }
            errors.AddRange(unused);
            errors.AddRange(Diagnose(serilog, levelsValid));
            if (errors.Count == 0)
            {
                // Only the whole section fails, not any one entry of it: said as Serilog says it.
                errors.Add($"{SectionName}: {(failure is null ? Describe(messages[0]) : Message(failure))}");
            }
            return (null, errors);
        }
        errors.AddRange(Diagnose(serilog, levelsValid));
        return (null, errors);
    }

    /// <summary>Keys at the top of the section that Serilog does not read.</summary>
    private static IEnumerable<string> Unknown(IConfigurationSection serilog) =>
        serilog.GetChildren().Where(c => !Known.Contains(c.Key, StringComparer.OrdinalIgnoreCase))
            .Select(c => $"{c.Path} is not a Serilog setting (those are {string.Join(", ", Known)}).");

    /// <summary>
    /// Which entries fail: each read alone into a throwaway configuration, with the assemblies (<c>Using</c>) and the
    /// switches it may need. Those are checked first, alone: when one of them fails, every entry needing it would too.
    /// </summary>
    private static List<string> Diagnose(IConfigurationSection serilog, bool levelsValid)
    {
        var errors = new List<string>();
        foreach (var name in (string[])["Using", "LevelSwitches", "FilterSwitches"])
        {
            foreach (var entry in Entries(serilog.GetSection(name)))
            {
                errors.AddRange(Check(entry, entry));
            }
        }
        if (errors.Count > 0)
        {
            return errors;
        }
        var shared = new[] { "Using", "LevelSwitches", "FilterSwitches" }.Select(serilog.GetSection).ToArray();
        if (levelsValid)
        {
            errors.AddRange(Check(serilog.GetSection("MinimumLevel"), [.. shared, serilog.GetSection("MinimumLevel")]));
        }
        foreach (var name in Methods.Keys)
        {
            foreach (var entry in Entries(serilog.GetSection(name)))
            {
                errors.AddRange(Check(entry, [.. shared, entry]));
            }
        }
        return errors;
    }

    /// <summary>
    /// The arguments no form of their method takes (<c>rollingIntervall</c> for the File sink's <c>rollingInterval</c>):
    /// Serilog picks the form that matches the most arguments and passes over the rest without a word, so the file
    /// rolled as it did by default and nothing said why. Methods are looked for as Serilog looks for them: static
    /// methods of its assemblies (and those in <c>Using</c>) on the section's configuration object, its own stand-ins
    /// (<c>Sink</c>, <c>Logger</c>) included. A name not found among them is left to Serilog's own message.
    /// </summary>
    private static List<string> PassedOver(IConfigurationSection serilog)
    {
        var errors = new List<string>();
        var usings = serilog.GetSection("Using").GetChildren().Select(u => u.Value).OfType<string>().ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var (section, what) in Methods)
        {
            foreach (var entry in Entries(serilog.GetSection(section)))
            {
                var args = entry.GetSection("Args").GetChildren().Select(a => a.Key).ToList();
                if (args.Count == 0 || entry["Name"] is not { Length: > 0 } name || Receivers.GetValueOrDefault(section) is not { } receiver)
                {
                    continue;
                }
                // Serilog matches a method's name exactly, and its arguments' names in any case.
                var forms = ConfigurationMethods(receiver, usings).Where(m => m.Name == name).ToList();
                var takes = forms.SelectMany(m => m.GetParameters().Skip(1)).Select(p => p.Name!).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
                foreach (var arg in forms.Count == 0 ? [] : args.Where(a => !takes.Contains(a, StringComparer.OrdinalIgnoreCase)))
                {
                    errors.Add($"{entry.Path}:Args:{arg}: Serilog's {what} '{name}' takes no argument '{arg}' and would pass it over without a word "
                        + $"(it takes: {string.Join(", ", takes.Order(StringComparer.OrdinalIgnoreCase))}).");
                }
            }
        }
        return errors;
    }

    /// <summary>The configuration object each method section's entries are called on.</summary>
    private static readonly Dictionary<string, Type> Receivers = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Enrich"] = typeof(Serilog.Configuration.LoggerEnrichmentConfiguration),
        ["Filter"] = typeof(Serilog.Configuration.LoggerFilterConfiguration),
        ["Destructure"] = typeof(Serilog.Configuration.LoggerDestructuringConfiguration),
        ["WriteTo"] = typeof(Serilog.Configuration.LoggerSinkConfiguration),
        ["AuditTo"] = typeof(Serilog.Configuration.LoggerAuditSinkConfiguration),
    };

    /// <summary>
    /// Static methods whose first parameter is <paramref name="receiver"/>, in the assemblies Serilog reads them from, as the
    /// read loaded them: those named in <c>Using</c>, and any with "serilog" in its name.
    /// </summary>
    private static IEnumerable<MethodInfo> ConfigurationMethods(Type receiver, IReadOnlySet<string> usings) =>
        AppDomain.CurrentDomain.GetAssemblies()
            .Where(a => !a.IsDynamic && a.GetName().Name is { } n && (n.Contains("serilog", StringComparison.OrdinalIgnoreCase) || usings.Contains(n)))
            .SelectMany(LoadableTypes)
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Where(m => m.GetParameters() is [var first, ..] && first.ParameterType == receiver);

    private static IEnumerable<Type> LoadableTypes(Assembly assembly)
    {
        try
        {
            return assembly.GetTypes();
        }
        catch (ReflectionTypeLoadException ex)
        {
            return ex.Types.OfType<Type>();
        }
    }

    /// <summary>A section's entries (<c>WriteTo:0</c>, <c>WriteTo:File</c>), or the section itself when it is one value.</summary>
    private static IEnumerable<IConfigurationSection> Entries(IConfigurationSection section) =>
        section.Value is not null ? [section] : section.GetChildren();

    /// <summary>The errors of <paramref name="entry"/>, read with <paramref name="with"/> only.</summary>
    private static IEnumerable<string> Check(IConfigurationSection entry, params IConfigurationSection[] with)
    {
        if (!entry.Exists())
        {
            return [];
        }
        var alone = new ConfigurationBuilder().AddInMemoryCollection(with.SelectMany(s => s.AsEnumerable())).Build();
        var configured = new LoggerConfiguration();
        var (failure, messages) = Try(() => configured.ReadFrom.Configuration(alone));
        Try(() => configured.CreateLogger().Dispose());
        if (failure is not null)
        {
            var message = Message(failure);
            // An argument Serilog could not convert: its message names the value, not the key.
            var key = entry.GetSection("Args").GetChildren().Where(a => a.Value is { Length: > 0 } v && message.Contains(v, StringComparison.Ordinal)).ToList() is [var arg] ? arg : entry;
            return [$"{key.Path}: {message}"];
        }
        return messages.Select(m => $"{entry.Path}: {Describe(m, entry)}");
    }

    /// <summary>Runs <paramref name="read"/>, with what it throws and what it says to Serilog's SelfLog on this flow.</summary>
    private static (Exception? Failure, List<string> Messages) Try(Action read)
    {
        if (Interlocked.Exchange(ref _selfLogInstalled, 1) == 0)
        {
            // SelfLog is one for the process: each message goes to the read that said it (hosts start side by side in tests).
            SelfLog.Enable(message =>
            {
                if (Capture.Value is { } messages)
                {
                    lock (messages)
                    {
                        messages.Add(message);
                    }
                }
            });
        }
        var captured = new List<string>();
        Capture.Value = captured;
        try
        {
            read();
            return (null, Snapshot(captured));
        }
        catch (Exception ex)
        {
            return (ex, Snapshot(captured));
        }
        finally
        {
            Capture.Value = null;
        }
    }

    private static List<string> Snapshot(List<string> captured)
    {
        lock (captured)
        {
            return [.. captured];
        }
    }

    private static string Message(Exception ex)
    {
        while (ex is TargetInvocationException { InnerException: { } inner })
        {
            ex = inner;
        }
        return ex.Message;
    }

    /// <summary>
    /// Serilog's SelfLog line, without its time: for a method it did not find, what the entry asked for and the names it
    /// has (its list of every overload with every parameter runs to dozens of lines).
    /// </summary>
    private static string Describe(string message, IConfigurationSection? entry = null)
    {
        const string NotFound = "Unable to find a method called ";
        var at = message.IndexOf(NotFound, StringComparison.Ordinal);
        if (at < 0)
        {
            var space = message.IndexOf(' ', StringComparison.Ordinal);
            return (space > 0 && DateTime.TryParse(message[..space], System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.RoundtripKind, out _)
                ? message[(space + 1)..] : message).Split('\n')[0].Trim();
        }
        var text = message[(at + NotFound.Length)..];
        var name = text.Split([' ', '.', '\n', '\r'], 2)[0];
        var what = entry?.Parent() is { } section && Methods.TryGetValue(section, out var kind) ? kind : "method";
        var args = entry?.GetSection("Args").GetChildren().Select(a => a.Key).ToList() ?? [];
        var candidates = text.Split('\n').Skip(1).Select(l => l.Trim()).Where(l => l.Contains('(', StringComparison.Ordinal))
            .Select(l => l[..l.IndexOf('(', StringComparison.Ordinal)].Split(' ')[^1]).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var fromPackage = $"one from another package needs its assembly in {SectionName}:Using";
        var takes = args.Count > 0 ? $"that takes {string.Join(", ", args)}" : "that takes no arguments";
        if (candidates.FirstOrDefault(c => c.Equals(name, StringComparison.OrdinalIgnoreCase) && c != name) is { } spelt)
        {
            // Serilog matches a method's name exactly: "file" is no sink, though "File" is.
            return $"Serilog has no {what} '{name}': Serilog matches names exactly, and this one is spelt '{spelt}'.";
        }
        if (candidates.Contains(name, StringComparer.Ordinal))
        {
            // A real sink with an argument misspelt, or a required one missing (File without its path).
            return $"Serilog's {what} '{name}' has no form {takes}: give it the arguments it requires, spelt as its documentation spells them.";
        }
        return $"Serilog has no {what} '{name}' {takes}"
            + (candidates.Count > 0 ? $" (those it has: {string.Join(", ", candidates)}; {fromPackage})." : $" ({fromPackage}).");
    }

    /// <summary>The name of the section an entry is in (<c>WriteTo</c> for <c>Serilog:WriteTo:0</c>).</summary>
    private static string? Parent(this IConfigurationSection entry)
    {
        var path = ConfigurationPath.GetParentPath(entry.Path);
        return path is null ? null : ConfigurationPath.GetSectionKey(path);
    }
}
