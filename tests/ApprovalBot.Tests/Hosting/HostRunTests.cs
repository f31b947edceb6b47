using ApprovalBot.Drafts;
using ApprovalBot.Execution;
using ApprovalBot.Hosting;
using ApprovalBot.Pipe;
using ApprovalBot.Reconciliation;
using ApprovalBot.Telegram;
using ApprovalBot.Tests.Execution;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

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
    /// SIGTERM while a part is still starting, and a reaction to that stop which ends a loop on the spot, among the stop's
    /// first callbacks: the loop was stopped, not failed. A look at the loops taken in a later callback took it for one
    /// that had ended on its own, the start's cancellation was swallowed, and the process exited 1 (seen once in CI: the
    /// host's own reactions stopped the pipe server first), so a supervisor restarted the service.
    /// </summary>
    [Fact]
    public async Task RunUntilStopped_StopWhileStartingEndsALoopOnTheSpot_StartCancelledNotAFailure()
    {
        var logs = new CapturedLogs();
        using var host = HostOf(logs, s => s
            .AddSingleton<EndsAtOnceWhenStopped>().AddSingleton<IHostedService>(sp => sp.GetRequiredService<EndsAtOnceWhenStopped>())
            .AddHostedService<StopsTheLoopOnTheStopThenStartsUntilCancelled>());

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => host.RunUntilStoppedAsync().WaitAsync(Patience));

        // Ended (the host runs it on the thread pool, so its task may complete a moment after the loop returned), and not
        // as a failure.
        await host.Services.GetRequiredService<EndsAtOnceWhenStopped>().ExecuteTask!.WaitAsync(Patience);
        Assert.True(host.Services.GetRequiredService<EndsAtOnceWhenStopped>().EndedOnStop);
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

    /// <summary>
    /// A kind's ExpireAfter as the start reads it, through the real configuration binder and checks: each bad value stops
    /// the start with one message naming the key; a value of the wrong type names the value too.
    /// </summary>
    [Theory]
    [InlineData("0", "ApprovalBot:Kinds:reply:ExpireAfter must be a positive duration such as 2.00:00:00, at most 3650.00:00:00 (ten years), or left out for never (got 00:00:00).")]
    [InlineData("-2.00:00:00", "ApprovalBot:Kinds:reply:ExpireAfter must be a positive duration such as 2.00:00:00, at most 3650.00:00:00 (ten years), or left out for never (got -2.00:00:00).")]
    [InlineData("3650.00:00:01", "ApprovalBot:Kinds:reply:ExpireAfter must be a positive duration such as 2.00:00:00, at most 3650.00:00:00 (ten years), or left out for never (got 3650.00:00:01).")]
    [InlineData("10675199.02:48:05.4775807", "ApprovalBot:Kinds:reply:ExpireAfter must be a positive duration such as 2.00:00:00, at most 3650.00:00:00 (ten years), or left out for never (got 10675199.02:48:05.4775807).")]
    [InlineData("2d", "'2d' at 'ApprovalBot:Kinds:reply:ExpireAfter'")]
    [InlineData("never", "'never' at 'ApprovalBot:Kinds:reply:ExpireAfter'")]
    public void ValidateConfiguration_BadExpireAfter_RefusedNamingTheKey(string value, string expected)
    {
        using var data = new TempDirectory();
        using var host = ServiceHost(data.Path, $"ApprovalBot:Kinds:reply:ExpireAfter={value}");

        var failure = Assert.ThrowsAny<Exception>(host.ValidateConfiguration);

        var error = Assert.Single(StartupFailure.ConfigurationErrors(failure) ?? []);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    /// <summary>Left out or empty (an environment variable that clears the file's value) is never; a duration is kept as given.</summary>
    [Theory]
    [InlineData(null, null)]
    [InlineData("", null)]
    [InlineData("2.00:00:00", "2.00:00:00")]
    [InlineData("00:00:00.001", "00:00:00.0010000")]
    public void ValidateConfiguration_ExpireAfterLeftOutEmptyOrGiven_Accepted(string? value, string? expected)
    {
        using var data = new TempDirectory();
        using var host = ServiceHost(data.Path, value is null ? [] : [$"ApprovalBot:Kinds:reply:ExpireAfter={value}"]);

        host.ValidateConfiguration();

        var kinds = host.Services.GetRequiredService<IOptions<KindsOptions>>().Value;
        Assert.Equal(expected, kinds.Kinds["reply"].ExpireAfter?.ToString("c", System.Globalization.CultureInfo.InvariantCulture));
        Assert.Null(kinds.Kinds["post"].ExpireAfter);
    }

    /// <summary>
    /// The start as Program.cs runs it, on the shipped configuration plus each bad setting: refused with one message naming
    /// the key: hours the binder read as days, and an empty value (an unset variable in a compose file), which the binder
    /// refuses itself, naming the key, rather than taking the built-in default.
    /// </summary>
    [Theory]
    [InlineData("ApprovalBot:Kinds:reply:MaxLength=", "Failed to convert configuration value '' at 'ApprovalBot:Kinds:reply:MaxLength'")]
    [InlineData("ApprovalBot:Kinds:reply:StaleAfter=24:00:00", "ApprovalBot:Kinds:reply:StaleAfter: '24:00:00' has 24 hours, which .NET reads as days (24:00:00 is 24 days) or not at all; write 1.00:00:00 for 24 hours")]
    // Not a duration to .NET at all: said once, in the hours-as-days words, not a second time by the binder.
    [InlineData("ApprovalBot:Reconciliation:RemindEvery=24:00", "ApprovalBot:Reconciliation:RemindEvery: '24:00' has 24 hours, which .NET reads as days (24:00:00 is 24 days) or not at all; write 1.00:00:00 for 24 hours")]
    [InlineData("ApprovalBot:Reconciliation:RemindEvery=48:00:00", "ApprovalBot:Reconciliation:RemindEvery: '48:00:00' has 48 hours, which .NET reads as days (24:00:00 is 24 days) or not at all; write 2.00:00:00 for 48 hours")]
    [InlineData("ApprovalBot:Execution:IntervalSeconds=", "Failed to convert configuration value '' at 'ApprovalBot:Execution:IntervalSeconds'")]
    [InlineData("ApprovalBot:Sandbox:AllowRemote=", "Failed to convert configuration value '' at 'ApprovalBot:Sandbox:AllowRemote'")]
    [InlineData("ApprovalBot:Pipe:LineTimeout=", "Failed to convert configuration value '' at 'ApprovalBot:Pipe:LineTimeout'")]
    // ApprovalBot's settings without their section: nothing read them, and the service started on its defaults.
    [InlineData("DataDirectory=/srv/elsewhere", "DataDirectory is not read: ApprovalBot's settings go under ApprovalBot (ApprovalBot:DataDirectory; on the command line --ApprovalBot:DataDirectory=…).")]
    [InlineData("telegram:Token=123:abc", "telegram is not read: ApprovalBot's settings go under ApprovalBot (ApprovalBot:Telegram:…; on the command line --ApprovalBot:Telegram:…=…).")]
    [InlineData("Kinds:reply:MaxLength=10", "Kinds is not read: ApprovalBot's settings go under ApprovalBot (ApprovalBot:Kinds:…;")]
    public void ValidateConfiguration_ValueTheBinderMisreads_RefusedNamingTheKey(string setting, string expected)
    {
        Assert.Equal(TimeSpan.FromDays(24), TimeSpan.Parse("24:00:00", System.Globalization.CultureInfo.InvariantCulture));
        using var data = new TempDirectory();
        using var host = ServiceHost(data.Path, setting);

        var failure = Assert.ThrowsAny<Exception>(host.ValidateConfiguration);

        var error = Assert.Single(StartupFailure.ConfigurationErrors(failure) ?? []);
        Assert.StartsWith(expected, error, StringComparison.Ordinal);
    }

    /// <summary>
    /// Logging is set up before the settings are checked: a data directory that is no path (a NUL in the JSON file) or a
    /// misspelt Serilog level threw there, and the start ended with a stack trace. Now both are bad keys, listed with
    /// every other one.
    /// </summary>
    [Theory]
    [InlineData("ApprovalBot:DataDirectory=a\0b", "ApprovalBot:DataDirectory is not a valid path: it holds a NUL character (\\0).")]
    [InlineData("Serilog:MinimumLevel:Default=Informaton", "Serilog:MinimumLevel:Default: 'Informaton' is not a log level (Verbose, Debug, Information, Warning, Error, Fatal).")]
    [InlineData("Serilog:MinimumLevel=7", "Serilog:MinimumLevel: '7' is not a log level (Verbose, Debug, Information, Warning, Error, Fatal).")]
    // Passed over by Serilog without a word (a line to its SelfLog): logged nowhere.
    [InlineData("Serilog:WriteTo:0:Name=Nope", "Serilog:WriteTo:0: Serilog has no sink 'Nope' that takes no arguments (those it has: Console, File, Logger, Providers, Sink; one from another package needs its assembly in Serilog:Using).")]
    [InlineData("Serilog:WriteTo:0=Fiel", "Serilog:WriteTo:0: Serilog has no sink 'Fiel' that takes no arguments (those it has: Console, File,")]
    [InlineData("Serilog:WriteTo:0:Name=File", "Serilog:WriteTo:0: Serilog's sink 'File' has no form that takes no arguments: give it the arguments it requires")]
    [InlineData("Serilog:Enrich:0=FromLogContxt", "Serilog:Enrich:0: Serilog has no enricher 'FromLogContxt' that takes no arguments (those it has: AtLevel, FromLogContext, With;")]
    [InlineData("Serilog:MinimumLevl:Default=Debug", "Serilog:MinimumLevl is not a Serilog setting (those are Using, LevelSwitches, FilterSwitches, MinimumLevel, Enrich, Properties, Filter, Destructure, WriteTo, AuditTo).")]
    // Thrown by Serilog: the start ended with its stack trace.
    [InlineData("Serilog:Using:0=Serilog.Sinks.Nope", "Serilog:Using:0: Could not load file or assembly 'Serilog.Sinks.Nope")]
    [InlineData("Serilog:LevelSwitches:$app=Loud", "Serilog:LevelSwitches:$app: The value Loud is not a valid Serilog level.")]
    [InlineData("Serilog:MinimumLevel:ControlledBy=$app", "Serilog:MinimumLevel: No LoggingLevelSwitch has been declared with name \"$app\".")]
    [InlineData("Serilog:WriteTo:0:Name=Console;Serilog:WriteTo:0:Args:theme=Nope", "Serilog:WriteTo:0:Args:theme: Type Nope was not found.")]
    // A misspelt argument beside the ones a form takes: Serilog took that form and passed over the misspelt one.
    [InlineData("Serilog:WriteTo:0:Name=File;Serilog:WriteTo:0:Args:path={data}/x.log;Serilog:WriteTo:0:Args:rollingIntervall=Day",
        "Serilog:WriteTo:0:Args:rollingIntervall: Serilog's sink 'File' takes no argument 'rollingIntervall' and would pass it over without a word (it takes: buffered, encoding,")]
    [InlineData("Serilog:WriteTo:0:Name=Console;Serilog:WriteTo:0:Args:outputTemplat={Message}",
        "Serilog:WriteTo:0:Args:outputTemplat: Serilog's sink 'Console' takes no argument 'outputTemplat' and would pass it over without a word (it takes: ")]
    [InlineData("Serilog:Destructure:0:Name=ToMaximumDepth;Serilog:Destructure:0:Args:maximumDestructuringDepth=4;Serilog:Destructure:0:Args:maxDepth=3",
        "Serilog:Destructure:0:Args:maxDepth: Serilog's destructuring policy 'ToMaximumDepth' takes no argument 'maxDepth' and would pass it over without a word (it takes: maximumDestructuringDepth).")]
    public void ValidateConfiguration_SettingLoggingReadsFirst_RefusedWithTheOtherBadKeys(string setting, string expected)
    {
        using var data = new TempDirectory();
        var builder = ApprovalBotHost.CreateBuilder([$"--ApprovalBot:DataDirectory={data.Path}", .. setting.Replace("{data}", data.Path, StringComparison.Ordinal).Split(';').Select(s => "--" + s), "--ApprovalBot:MaxBatch=0"]);

        builder.AddApprovalBotLogging();
        builder.AddApprovalStore();
        builder.AddAgentPipe();
        builder.AddTelegram();
        builder.AddApprovalJobs();
        builder.AddReconciliation();
        using var host = builder.Build();
        var failure = Assert.ThrowsAny<Exception>(host.ValidateConfiguration);

        var errors = StartupFailure.ConfigurationErrors(failure) ?? [];
        Assert.Contains(errors, e => e.StartsWith(expected, StringComparison.Ordinal));
        Assert.Contains("ApprovalBot:MaxBatch must be between 1 and 10000 (got 0).", errors);
    }

    /// <summary>
    /// A sink named in another case is one Serilog does not find (it matches a method's name exactly): said once, as
    /// Serilog's own error, not also as arguments the sink of the right case would not take.
    /// </summary>
    [Fact]
    public void ValidateConfiguration_SinkNameInAnotherCase_OnlySerilogsOwnError()
    {
        using var data = new TempDirectory();
        var builder = ApprovalBotHost.CreateBuilder([$"--ApprovalBot:DataDirectory={data.Path}", "--Serilog:WriteTo:0:Name=file",
            $"--Serilog:WriteTo:0:Args:path={data.Path}/x.log", "--Serilog:WriteTo:0:Args:rollingIntervall=Day"]);

        builder.AddApprovalBotLogging();
        builder.AddApprovalStore();
        using var host = builder.Build();
        var failure = Assert.ThrowsAny<Exception>(host.ValidateConfiguration);

        var error = Assert.Single(StartupFailure.ConfigurationErrors(failure) ?? []);
        Assert.Equal("Serilog:WriteTo:0: Serilog has no sink 'file': Serilog matches names exactly, and this one is spelt 'File'.", error);
    }

    /// <summary>Arguments a form of their sink or enricher takes pass the check, spelt in any case as Serilog matches them.</summary>
    [Theory]
    [InlineData("Serilog:WriteTo:0:Name=File;Serilog:WriteTo:0:Args:path={data}/x.log;Serilog:WriteTo:0:Args:rollingInterval=Day")]
    [InlineData("Serilog:WriteTo:0:Name=File;Serilog:WriteTo:0:Args:Path={data}/x.log;Serilog:WriteTo:0:Args:RollingInterval=Day")]
    [InlineData("Serilog:WriteTo:0:Name=Console;Serilog:WriteTo:0:Args:outputTemplate={Message}")]
    [InlineData("Serilog:Destructure:0:Name=ToMaximumDepth;Serilog:Destructure:0:Args:maximumDestructuringDepth=4")]
    public void ValidateConfiguration_SerilogArgumentsAFormTakes_Accepted(string setting)
    {
        using var data = new TempDirectory();
        var builder = ApprovalBotHost.CreateBuilder([$"--ApprovalBot:DataDirectory={data.Path}", .. setting.Replace("{data}", data.Path, StringComparison.Ordinal).Split(';').Select(s => "--" + s)]);

        builder.AddApprovalBotLogging();
        builder.AddApprovalStore();
        using var host = builder.Build();

        host.ValidateConfiguration();
    }

    /// <summary>The service composed as Program.cs composes it, built but not started, on the shipped configuration plus <paramref name="settings"/>.</summary>
    private static IHost ServiceHost(string dataDirectory, params string[] settings)
    {
        var builder = ApprovalBotHost.CreateBuilder([$"--ApprovalBot:DataDirectory={dataDirectory}", .. settings.Select(s => "--" + s)]);
        builder.AddApprovalStore();
        builder.AddAgentPipe();
        builder.AddTelegram();
        builder.AddApprovalJobs();
        builder.AddReconciliation();
        return builder.Build();
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

    private sealed class FailsAtOnce : HostLoop
    {
        protected override Task RunAsync(CancellationToken stoppingToken) =>
            throw new InvalidOperationException("broken on purpose");
    }

    /// <summary>A loop whose own cancellation (an inner timeout, say) escapes while the host is not stopping.</summary>
    private sealed class EndsCancelled : HostLoop
    {
        protected override async Task RunAsync(CancellationToken stoppingToken)
        {
            await Task.Yield();
            using var inner = new CancellationTokenSource();
            await inner.CancelAsync();
            inner.Token.ThrowIfCancellationRequested();
        }
    }

    private sealed class Returns : HostLoop
    {
        protected override async Task RunAsync(CancellationToken stoppingToken) => await Task.Yield();
    }

    /// <summary>A loop of the service's kind whose task ends in the very call that stops it.</summary>
    private sealed class EndsAtOnceWhenStopped : HostLoop
    {
        public TaskCompletionSource Running { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override Task RunAsync(CancellationToken stoppingToken)
        {
            var ended = new TaskCompletionSource();
            stoppingToken.Register(() => ended.TrySetResult());
            Running.TrySetResult();
            return ended.Task;
        }
    }

    /// <summary>
    /// Reacts to the stop by stopping the loop (registered late, so among the first to run: a token's callbacks run in reverse
    /// order), then asks for the stop itself, as SIGTERM does, while its own start is still under way.
    /// </summary>
    private sealed class StopsTheLoopOnTheStopThenStartsUntilCancelled(IHostApplicationLifetime lifetime, EndsAtOnceWhenStopped loop) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            await loop.Running.Task.WaitAsync(cancellationToken);
            lifetime.ApplicationStopping.Register(() => loop.StopAsync(CancellationToken.None));
            var starting = Task.Delay(Timeout.Infinite, cancellationToken);
            lifetime.StopApplication();
            await starting;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>A part whose start takes until the host gives up on it (as Quartz's can while its scheduler starts).</summary>
    private sealed class StartsUntilCancelled : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.Delay(Timeout.Infinite, cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>Ends cancelled when the host stops it.</summary>
    private sealed class RunsUntilStopped : HostLoop
    {
        protected override Task RunAsync(CancellationToken stoppingToken) => Task.Delay(Timeout.Infinite, stoppingToken);
    }

    /// <summary>Ends normally when the host stops it, as the service's loops do.</summary>
    private sealed class ReturnsWhenStopped : HostLoop
    {
        protected override async Task RunAsync(CancellationToken stoppingToken)
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
