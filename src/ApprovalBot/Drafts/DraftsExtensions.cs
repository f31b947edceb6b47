using ApprovalBot.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Drafts;

internal static class DraftsExtensions
{
    /// <summary>The durable store: SQLite database, group-committing writer, ledger, kinds and change signals.</summary>
    public static IHostApplicationBuilder AddApprovalStore(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<StoreOptions>().BindConfiguration(StoreOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<StoreOptions>, StoreOptionsValidator>();
        services.AddOptions<KindsOptions>()
            .Configure<IConfiguration>((o, config) =>
            {
                var bound = new Dictionary<string, KindOptions>(StringComparer.OrdinalIgnoreCase);
                var section = config.GetSection(KindsOptions.Section);
                section.Bind(bound);
                ThrowForKindsDropped(section, bound);
                var spellings = KindNames.Spellings(config);
                foreach (var (key, kind) in bound)
                {
                    o.Kinds[KindNames.Of(spellings, key)] = kind;
                }
            })
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<KindsOptions>, KindsOptionsValidator>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<SqliteDatabase>();
        services.AddSingleton(sp =>
        {
            var database = sp.GetRequiredService<SqliteDatabase>();
            return new StartupLock(StoreLock.PathOf(database.DatabasePath), database.TakeLock);
        });
        services.AddSingleton<DraftSignals>();
        services.AddSingleton<DraftWriter>();
        services.AddSingleton<DraftStore>();
        services.AddSingleton<ApproverActions>();
        services.AddHostedService<StoreInitializer>();
        return builder;
    }

    /// <summary>
    /// The binder leaves a dictionary entry out when one of its values fails to convert: with <c>MaxLength=abc</c> the
    /// whole kind was gone, without a word, and every submit of it was refused as an unknown kind. Bound on its own, the
    /// kind makes the binder throw its usual error naming the key and the value, which the start reports.
    /// </summary>
    private static void ThrowForKindsDropped(IConfigurationSection kinds, Dictionary<string, KindOptions> bound)
    {
        foreach (var kind in kinds.GetChildren())
        {
            if (!bound.ContainsKey(kind.Key) && kind.GetChildren().Any())
            {
                kind.Bind(new KindOptions());
                throw new OptionsValidationException(Options.DefaultName, typeof(KindsOptions), [$"{kind.Path}: the kind's settings could not be read."]);
            }
        }
    }
}
