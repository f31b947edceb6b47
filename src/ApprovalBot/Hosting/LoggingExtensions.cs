using ApprovalBot.Drafts;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Serilog;
using Serilog.Formatting.Display;
using Serilog.Formatting.Json;

namespace ApprovalBot.Hosting;

internal static class LoggingExtensions
{
    private const string ConsoleTemplate = "[{Timestamp:HH:mm:ss} {Level:u3}] {SourceContext}: {Message:lj}{NewLine}{Exception}";

    /// <summary>Serilog: readable console lines, and a daily rolling JSON file under <c>DataDirectory/logs</c> with every property.</summary>
    public static IHostApplicationBuilder AddApprovalBotLogging(this IHostApplicationBuilder builder)
    {
        var dataDirectory = builder.Configuration["ApprovalBot:DataDirectory"] is { Length: > 0 } d ? d : "data";
        // A data directory that is no path (a NUL in the JSON file) is refused with the other settings; until then, no file log.
        var logFolder = StoreOptions.IsValidPath(dataDirectory) ? Path.Combine(Path.GetFullPath(dataDirectory), "logs") : null;
        // The sinks run on a background thread (BackgroundLogSink); levels and enrichment stay on the outer logger.
        var sinks = new LoggerConfiguration().MinimumLevel.Verbose();
        BatchedConsoleSink? console = null;
        if (Console.IsOutputRedirected)
        {
            console = new BatchedConsoleSink(new MessageTemplateTextFormatter(ConsoleTemplate), Console.OpenStandardOutput());
            sinks.WriteTo.Sink(console);
        }
        else
        {
            sinks.WriteTo.Console(outputTemplate: ConsoleTemplate);
        }
        if (logFolder is not null)
        {
            sinks.WriteTo.File(
                new JsonFormatter(renderMessage: true),
                Path.Combine(logFolder, "approvalbot-.json"),
                rollingInterval: RollingInterval.Day,
                retainedFileCountLimit: 14,
                flushToDiskInterval: TimeSpan.FromSeconds(1));
        }
        var sinkLogger = sinks.CreateLogger();
        // A bad level, sink or other Serilog setting is refused with the other settings (HostRun.ValidateConfiguration):
        // read here, it threw first, or was passed over without a word.
        var (configured, errors) = SerilogSettings.Read(builder.Configuration, levelsValid: LoggingSettings.Find(builder.Configuration).Count == 0);
        builder.Services.AddSingleton(new SerilogSettings.Found(errors));
        var logger = (configured ?? new LoggerConfiguration())
            .Enrich.FromLogContext()
            // The host logs a failed start with its stack trace; a refused start is said once, in full, by Program.
            .Filter.ByExcluding(e => e.Exception is StartupRefusedException)
            .WriteTo.Sink(new BackgroundLogSink(sinkLogger, console is null ? null : console.Flush))
            .CreateLogger();
        builder.Logging.ClearProviders();
        builder.Logging.AddSerilog(logger, dispose: true);
        return builder;
    }
}
