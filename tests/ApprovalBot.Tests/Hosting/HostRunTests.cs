using ApprovalBot.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Tests.Hosting;

public sealed class HostRunTests
{
    [Fact]
    public async Task RunUntilStopped_APartFailsWhileAnotherIsStillStarting_ReturnsOne()
    {
        using var host = HostOf(s => s.AddHostedService<FailsAtOnce>().AddHostedService<StartsUntilCancelled>());

        var code = await host.RunUntilStoppedAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(1, code);
    }

    [Fact]
    public async Task RunUntilStopped_StopAskedFor_ReturnsZero()
    {
        using var host = HostOf(s => s.AddHostedService<RunsUntilStopped>());
        var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
        lifetime.ApplicationStarted.Register(lifetime.StopApplication);

        var code = await host.RunUntilStoppedAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(0, code);
    }

    [Fact]
    public async Task RunUntilStopped_APartFailsAfterStart_ReturnsOne()
    {
        using var host = HostOf(s => s.AddHostedService<RunsUntilStopped>().AddHostedService<FailsAtOnce>());

        var code = await host.RunUntilStoppedAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(1, code);
    }

    private static IHost HostOf(Action<IServiceCollection> services)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        services(builder.Services);
        return builder.Build();
    }

    private sealed class FailsAtOnce : BackgroundService
    {
        protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
            throw new InvalidOperationException("broken on purpose");
    }

    /// <summary>A part whose start takes until the host gives up on it (as Quartz's can while its scheduler starts).</summary>
    private sealed class StartsUntilCancelled : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.Delay(Timeout.Infinite, cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private sealed class RunsUntilStopped : BackgroundService
    {
        protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.Delay(Timeout.Infinite, stoppingToken);
    }
}
