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
                config.GetSection(KindsOptions.Section).Bind(bound);
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
        services.AddSingleton<DraftSignals>();
        services.AddSingleton<DraftWriter>();
        services.AddSingleton<DraftStore>();
        services.AddSingleton<ApproverActions>();
        services.AddHostedService<StoreInitializer>();
        return builder;
    }
}
