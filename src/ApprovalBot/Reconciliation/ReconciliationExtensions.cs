using ApprovalBot.Pipe;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Quartz;

namespace ApprovalBot.Reconciliation;

internal static class ReconciliationExtensions
{
    /// <summary>Gap reports (pipe op <c>report</c>), escalation of each gap to the chat, and the reconcile job on its interval.</summary>
    public static IHostApplicationBuilder AddReconciliation(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<ReconciliationOptions>().BindConfiguration(ReconciliationOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ReconciliationOptions>, ReconciliationOptionsValidator>();
        services.AddSingleton<IRouteLookup, ConfiguredRouteLookup>();
        services.AddSingleton<GapFinder>();
        services.AddSingleton<Reconciler>();
        services.AddPipeOperation<ReportOperation>();
        var interval = builder.Configuration.GetValue($"{ReconciliationOptions.Section}:IntervalSeconds", new ReconciliationOptions().IntervalSeconds);
        services.AddQuartz(q =>
        {
            q.AddJob<ReconcileJob>(ReconcileJob.Key, j => j.StoreDurably());
            q.AddTrigger(t => t.ForJob(ReconcileJob.Key).WithIdentity("reconcile-interval", "approvalbot")
                .StartNow().WithSimpleSchedule(s => s.WithIntervalInSeconds(Math.Max(1, interval)).RepeatForever().WithMisfireHandlingInstructionNextWithRemainingCount()));
        });
        return builder;
    }
}
