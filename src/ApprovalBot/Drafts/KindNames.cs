using Microsoft.Extensions.Configuration;

namespace ApprovalBot.Drafts;

/// <summary>
/// The names of the configured kinds, each spelled as the first configuration source that names it spells it.
/// Configuration keys ignore case, so <c>reply</c> from appsettings.json and an override
/// <c>APPROVALBOT__KINDS__REPLY__MAXLENGTH</c> are one section, and the merged key took whichever spelling the merge
/// kept: the kind <c>reply</c> became <c>REPLY</c>, every <c>reply</c> submit was refused as an unknown kind and its
/// approved drafts had no route. Kinds stay matched exactly (agents, the store and the routes share one spelling).
/// </summary>
internal static class KindNames
{
    /// <summary>The name a kind is known by, keyed case-insensitively by any spelling of it.</summary>
    public static IReadOnlyDictionary<string, string> Spellings(IConfiguration configuration)
    {
        var names = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (configuration is IConfigurationRoot root)
        {
            foreach (var provider in root.Providers)
            {
                foreach (var key in provider.GetChildKeys([], KindsOptions.Section))
                {
                    names.TryAdd(key, key);
                }
            }
        }
        return names;
    }

    /// <summary><paramref name="key"/> as the kind's first source spells it.</summary>
    public static string Of(IReadOnlyDictionary<string, string> spellings, string key) =>
        spellings.TryGetValue(key, out var name) ? name : key;
}
