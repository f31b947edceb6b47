using Microsoft.Extensions.Configuration;
using Serilog.Events;

namespace ApprovalBot.Hosting;

/// <summary>
/// The Serilog levels under <c>Serilog:MinimumLevel</c> (itself, <c>Default</c>, each <c>Override:&lt;source&gt;</c>).
/// Serilog reads them while the host is built, before the settings are checked, and threw on a misspelt one: the start
/// ended with a stack trace and no word about any other bad key. They are checked as the settings are, and Serilog is
/// left to its defaults until they pass.
/// </summary>
internal static class LoggingSettings
{
    private static readonly string[] Levels = Enum.GetNames<LogEventLevel>();

    public static IReadOnlyList<string> Find(IConfiguration configuration)
    {
        var errors = new List<string>();
        var minimum = configuration.GetSection("Serilog:MinimumLevel");
        foreach (var key in (IEnumerable<IConfigurationSection>)[minimum, minimum.GetSection("Default"), .. minimum.GetSection("Override").GetChildren()])
        {
            // A number is a level to Serilog too, and any number passed: 7 logged nothing at all.
            if (key.Value is { } value && !Levels.Contains(value.Trim(), StringComparer.OrdinalIgnoreCase))
            {
                errors.Add($"{key.Path}: '{value}' is not a log level ({string.Join(", ", Levels)}).");
            }
        }
        return errors;
    }
}
