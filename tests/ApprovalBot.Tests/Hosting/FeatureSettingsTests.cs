using System.Reflection;
using ApprovalBot.Hosting;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Tests.Hosting;

/// <summary>The one list both start-up checks go by must hold every section and every validated options of the service.</summary>
public sealed class FeatureSettingsTests
{
    private static readonly Type[] ServiceTypes = typeof(FeatureSettings).Assembly.GetTypes();

    [Fact]
    public void All_EveryOptionsClassWithASection_IsReadFromThatSection()
    {
        var sections = ServiceTypes
            .Select(t => (Type: t, Field: t.GetField("Section", BindingFlags.Public | BindingFlags.Static)))
            .Where(t => t.Field is { IsLiteral: true })
            .Select(t => (t.Type, Path: (string)t.Field!.GetRawConstantValue()!))
            .ToList();

        Assert.NotEmpty(sections);
        Assert.All(sections, s => Assert.Contains(FeatureSettings.All, f => f.Path == s.Path && f.Validated.Any(v => v.Type == s.Type)));
        Assert.Equal(FeatureSettings.All.Count, FeatureSettings.All.DistinctBy(f => f.Path).Count());
    }

    [Fact]
    public void All_EveryOptionsAValidatorChecks_IsReadAtStart()
    {
        var validated = ServiceTypes
            .Where(t => !t.IsAbstract)
            .SelectMany(t => t.GetInterfaces())
            .Where(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IValidateOptions<>))
            .Select(i => i.GetGenericArguments()[0])
            .ToHashSet();

        Assert.NotEmpty(validated);
        Assert.Subset(FeatureSettings.All.SelectMany(f => f.Validated).Select(v => v.Type).ToHashSet(), validated);
    }
}
