using ApprovalBot.Execution;
using ApprovalBot.Pipe;
using ApprovalBot.Telegram;
using ApprovalBot.Telegram.Commands;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Quartz;

namespace ApprovalBot.Reconciliation;

internal static class ReconciliationExtensions
{
    private static readonly TriggerKey ReconcileIntervalTrigger = new("reconcile-interval", "approvalbot");

    /// <summary>
    /// Gap reports (pipe op <c>report</c>), escalation of each gap to the chat, expiry of drafts past their kind's ExpireAfter,
    /// and the reconcile job on its interval.
    /// </summary>
    public static IHostApplicationBuilder AddReconciliation(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<ReconciliationOptions>().BindConfiguration(ReconciliationOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ReconciliationOptions>, ReconciliationOptionsValidator>();
        services.AddSingleton<IRouteLookup, ConfiguredRouteLookup>();
        services.AddSingleton<GapDismissals>();
        services.AddSingleton<GapFinder>();
        services.TryAddSingleton<IMissedDecisions, NoMissedDecisions>();
        services.AddHostedService<ReconcileWhenDecisionsTakenIn>();
        services.AddSingleton<DraftExpiry>();
        services.AddSingleton<Reconciler>();
        services.TryAddSingleton<ReconcileRequests>();
        services.AddPipeOperation<ReportOperation>();
        services.AddTelegramCommand<OrphansCommand>();
        services.AddTelegramCommand<StaleCommand>();
        // Durable under the key the executor triggers after each of its cycles, and on its own interval.
        services.AddQuartz(q =>
        {
            q.AddJob<ReconcileJob>(j => j.WithIdentity(ApprovalJobKeys.Reconcile).StoreDurably());
            q.AddTrigger((sp, t) => t
                .WithIdentity(ReconcileIntervalTrigger)
                .ForJob(ApprovalJobKeys.Reconcile)
                .StartNow()
                .WithSimpleSchedule(s => s
                    .WithInterval(TimeSpan.FromSeconds(sp.GetRequiredService<IOptions<ReconciliationOptions>>().Value.IntervalSeconds))
                    .RepeatForever()));
        });
        return builder;
    }
}
