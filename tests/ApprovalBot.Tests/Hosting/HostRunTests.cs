using ApprovalBot.Hosting;
using ApprovalBot.Tests.Execution;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Tests.Hosting;

public sealed class HostRunTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(typeof(FailsAtOnce))]
    [InlineData(typeof(EndsCancelled))]
    public async Task RunUntilStopped_APartEndsWhileAnotherIsStillStarting_ReturnsOneNamingIt(Type loop)
    {
        var logs = new CapturedLogs();
        using var host = HostOf(logs, s => s.AddSingleton(typeof(IHostedService), loop).AddHostedService<StartsUntilCancelled>());

        var code = await host.RunUntilStoppedAsync().WaitAsync(Patience);

        Assert.Equal(1, code);
        AssertStoppedBecauseOf(logs, loop.Name);
    }

    [Fact]
    public async Task RunUntilStopped_StopAskedFor_ReturnsZero()
    {
        var logs = new CapturedLogs();
        using var host = HostOf(logs, s => s.AddHostedService<RunsUntilStopped>().AddHostedService<ReturnsWhenStopped>());
        var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
        lifetime.ApplicationStarted.Register(lifetime.StopApplication);

        var code = await host.RunUntilStoppedAsync().WaitAsync(Patience);

        Assert.Equal(0, code);
        Assert.DoesNotContain(logs.Entries, e => e.Level == LogLevel.Critical);
    }

    /// <summary>
    /// However a loop ends while nobody asked the host to stop, the service cannot go on without it: a cancelled loop (an
    /// inner timeout's cancellation escaping) used to stop the host with exit 0, and one that returned left the process
    /// running without it; either way a supervisor's restart-on-failure never brought the loop back.
    /// </summary>
    [Theory]
    [InlineData(typeof(FailsAtOnce), "failed: broken on purpose")]
    [InlineData(typeof(EndsCancelled), "ended unexpectedly: it was cancelled")]
    [InlineData(typeof(Returns), "ended unexpectedly: it returned")]
    public async Task RunUntilStopped_ALoopEndsAfterStart_ReturnsOneNamingIt(Type loop, string reason)
    {
        var logs = new CapturedLogs();
        using var host = HostOf(logs, s => s.AddHostedService<RunsUntilStopped>().AddSingleton(typeof(IHostedService), loop));

        var code = await host.RunUntilStoppedAsync().WaitAsync(Patience);

        Assert.Equal(1, code);
        var fatal = AssertStoppedBecauseOf(logs, loop.Name);
        Assert.Contains(reason, fatal.Message, StringComparison.Ordinal);
    }

    private static CapturedLogs.Entry AssertStoppedBecauseOf(CapturedLogs logs, string service)
    {
        var fatal = Assert.Single(logs.Entries, e => e.Level == LogLevel.Critical && e.Category == typeof(HostRun).FullName);
        Assert.Equal(service, fatal.Properties["Service"]);
        Assert.StartsWith($"ApprovalBot stopped because {service} ", fatal.Message, StringComparison.Ordinal);
        return fatal;
    }

    private static IHost HostOf(CapturedLogs logs, Action<IServiceCollection> services)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(logs);
        services(builder.Services);
        return builder.Build();
    }

    private sealed class FailsAtOnce : BackgroundService
    {
        protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
            throw new InvalidOperationException("broken on purpose");
    }

    /// <summary>A loop whose own cancellation (an inner timeout, say) escapes while the host is not stopping.</summary>
    private sealed class EndsCancelled : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            await Task.Yield();
            using var inner = new CancellationTokenSource();
            await inner.CancelAsync();
            inner.Token.ThrowIfCancellationRequested();
        }
    }

    private sealed class Returns : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken) => await Task.Yield();
    }

    /// <summary>A part whose start takes until the host gives up on it (as Quartz's can while its scheduler starts).</summary>
    private sealed class StartsUntilCancelled : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.Delay(Timeout.Infinite, cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>Ends cancelled when the host stops it.</summary>
    private sealed class RunsUntilStopped : BackgroundService
    {
        protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.Delay(Timeout.Infinite, stoppingToken);
    }

    /// <summary>Ends normally when the host stops it, as the service's loops do.</summary>
    private sealed class ReturnsWhenStopped : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            try
            {
                await Task.Delay(Timeout.Infinite, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
            }
        }
    }
}
