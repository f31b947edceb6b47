using ApprovalBot.Hosting;
using ApprovalBot.Pipe.Operations;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Pipe;

internal static class PipeExtensions
{
    /// <summary>The agent pipe (protocol v1) with the draft ops; other features add theirs with <see cref="AddPipeOperation{T}"/>.</summary>
    public static IHostApplicationBuilder AddAgentPipe(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<AgentPipeOptions>().BindConfiguration(AgentPipeOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<AgentPipeOptions>, AgentPipeOptionsValidator>();
        services.AddPipeOperation<PingOperation>();
        services.AddPipeOperation<SubmitOperation>();
        services.AddPipeOperation<GetOperation>();
        services.AddPipeOperation<WaitOperation>();
        services.AddPipeOperation<ListOperation>();
        services.AddPipeOperation<CancelOperation>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<PipeDispatcher>();
        services.AddSingleton<AgentPipeServer>();
        services.AddHostedService(sp => sp.GetRequiredService<AgentPipeServer>());
        services.AddSingleton(sp => new StartupLock(
            PipeEndpoint.LockPathOf(sp.GetRequiredService<IOptions<AgentPipeOptions>>().Value.SocketPath), sp.GetRequiredService<AgentPipeServer>().Claim));
        return builder;
    }

    public static IServiceCollection AddPipeOperation<T>(this IServiceCollection services)
        where T : class, IPipeOperation =>
        services.AddSingleton<IPipeOperation, T>();
}
