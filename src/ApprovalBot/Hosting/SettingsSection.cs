using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Hosting;

/// <summary>A section of settings, as the start-up checks see it.</summary>
/// <param name="Path">Its configuration path.</param>
/// <param name="Keys">The class whose public settable properties are the keys there (below each kind, for the kinds).</param>
/// <param name="Validated">The options read at start to check the values given there.</param>
internal sealed record SettingsSection(string Path, Type Keys, IReadOnlyList<SettingsSection.Reader> Validated)
{
    /// <summary>Its key in the section above it (<c>Pipe</c> for <c>ApprovalBot:Pipe</c>).</summary>
    public string Name => ConfigurationPath.GetSectionKey(Path);

    /// <summary>Groups of settings below it, by name, and their keys (a kind's executor route).</summary>
    public IReadOnlyList<(string Name, Type Keys)> Groups { get; init; } = [];

    /// <summary>A section whose keys are those of <typeparamref name="T"/>, read as <typeparamref name="T"/> at start.</summary>
    public static SettingsSection Of<T>(string path) where T : class => new(path, typeof(T), [Options<T>()]);

    /// <summary>Reads <typeparamref name="T"/> from the host's services: the binder's and the validators' failures are thrown here.</summary>
    public static Reader Options<T>() where T : class => new(typeof(T), services => services.GetRequiredService<IOptions<T>>().Value);

    /// <summary>Options to read, and how.</summary>
    internal sealed record Reader(Type Type, Func<IServiceProvider, object> Read);
}
