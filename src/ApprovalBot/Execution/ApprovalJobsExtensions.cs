using ApprovalBot.Drafts;
using ApprovalBot.Execution.Pull;
using ApprovalBot.Execution.Routes;
using ApprovalBot.Pipe;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Quartz;

namespace ApprovalBot.Execution;

internal static class ApprovalJobsExtensions
{
    /// <summary>
    /// The Quartz scheduler (in-memory store: the SQLite store is the only source of truth), the executor job with
    /// its routes, and the pull ops <c>claim</c>, <c>complete</c>, <c>fail</c>. Other jobs (the reconcile job) are
    /// added through <paramref name="configure"/>; a durable job keyed <see cref="ApprovalJobKeys.Reconcile"/> is
    /// fired after every executor cycle.
    /// </summary>
    public static IHostApplicationBuilder AddApprovalJobs(this IHostApplicationBuilder builder, Action<IQuartzBuilder>? configure = null)
    {
        var services = builder.Services;
        services.AddOptions<ExecutionOptions>().BindConfiguration(ExecutionOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ExecutionOptions>, ExecutionOptionsValidator>();
        services.AddOptions<ExecutorRoutesOptions>().Configure<IConfiguration>(BindRoutes).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ExecutorRoutesOptions>, ExecutorRoutesValidator>();

        services.AddSingleton<CommandSessions>();
        services.AddSingleton<CommandRunner>();
        services.AddSingleton<WebhookRunner>();
        services.AddSingleton<IStoreOpenedStep, SettleRestoredApprovals>();
        services.AddSingleton<ExecutorCycle>();
        // Stops after Quartz (registered later): no new cycle starts while the runs still going record their ends.
        services.AddHostedService(sp => sp.GetRequiredService<ExecutorCycle>());
        services.TryAddSingleton<ReconcileRequests>();
        services.AddSingleton<ExecutorWakeup>();
        services.AddSingleton<IExecutorCycleListener>(sp => sp.GetRequiredService<ExecutorWakeup>());
        services.AddHostedService(sp => sp.GetRequiredService<ExecutorWakeup>());

        services.AddPipeOperation<ClaimOperation>();
        services.AddPipeOperation<CompleteOperation>();
        services.AddPipeOperation<FailOperation>();

        services.AddQuartz(q =>
        {
            q.UseInMemoryStore();
            // Quartz only decides when to wake. Its default scheduler runs on the container's clock, which this makes the
            // system's unless a host registers its own after (a test's clock): the store's clock, either way, so the retry
            // instants ExecutorWakeup hands over are Quartz's instants.
            q.UseTimeProvider(TimeProvider.System);
            q.AddJob<ExecutorJob>(j => j.WithIdentity(ApprovalJobKeys.Executor).StoreDurably());
            q.AddTrigger((sp, t) => t
                .WithIdentity(ApprovalJobKeys.ExecutorInterval)
                .ForJob(ApprovalJobKeys.Executor)
                .StartNow()
                .WithSimpleSchedule(s => s
                    .WithInterval(TimeSpan.FromSeconds(sp.GetRequiredService<IOptions<ExecutionOptions>>().Value.IntervalSeconds))
                    .RepeatForever()));
            configure?.Invoke(q);
        });
        services.AddQuartzHostedService(o => o.WaitForJobsToComplete = true);
        return builder;
    }

    /// <summary>Binds <c>ApprovalBot:Kinds:&lt;kind&gt;:Executor</c> of every kind that has one.</summary>
    private static void BindRoutes(ExecutorRoutesOptions options, IConfiguration configuration)
    {
        var spellings = KindNames.Spellings(configuration);
        foreach (var kind in configuration.GetSection(KindsOptions.Section).GetChildren())
        {
            var section = kind.GetSection("Executor");
            if (!section.Exists()) continue;
            var route = new ExecutorRouteOptions();
            var command = section.GetSection("Command");
            route.CommandWasScalar = command.Value is not null;
            route.GivenKeys = [.. section.GetChildren().Select(c => c.Key)];
            section.Bind(route);
            options.Routes[KindNames.Of(spellings, kind.Key)] = route;
        }
    }
}
