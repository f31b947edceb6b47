using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Tests.Infrastructure;

/// <summary>
/// Options as the start reads them, for a validator's table of bad values: <paramref name="settings"/> ("Key=value" below
/// <paramref name="section"/>) bound by the real configuration binder, then checked by <paramref name="validator"/>.
/// </summary>
internal static class BoundOptions
{
    public static IReadOnlyList<string> Errors<T>(IValidateOptions<T> validator, string section, params string[] settings) where T : class, new()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => s.Split('=', 2)).Select(p => new KeyValuePair<string, string?>($"{section}:{p[0]}", p[1])))
            .Build();
        var options = new T();
        configuration.GetSection(section).Bind(options);
        return validator.Validate(null, options).Failures?.ToList() ?? [];
    }
}
