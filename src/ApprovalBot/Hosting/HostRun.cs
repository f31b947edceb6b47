using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Hosting;

internal static class HostRun
{
    /// <summary>
    /// Refuses keys no setting reads, values of the wrong type and values out of range, before any service is built;
    /// every failure is reported at once. The host runs the checks only after it has built its hosted services, and a
    /// constructor that reads its options (the store's, Telegram's) threw that feature's failure alone, hiding every
    /// other bad key; the binder's error for a value of the wrong type did the same.
    /// </summary>
    public static void ValidateConfiguration(this IHost host)
    {
        var failures = new List<OptionsValidationException>();
        var configuration = host.Services.GetRequiredService<IConfiguration>();
        List<string> unknown = [.. UnknownSettings.Find(configuration), .. LoggingSettings.Find(configuration),
            .. host.Services.GetService<SerilogSettings.Found>()?.Errors ?? []];
        if (unknown.Count > 0)
        {
            failures.Add(new OptionsValidationException(Options.DefaultName, typeof(IConfiguration), unknown));
        }
        // One by one, so that a value of the wrong type (the binder throws at once) hides no other section's failures.
        foreach (var (type, read) in FeatureSettings.All.SelectMany(s => s.Validated))
        {
            try
            {
                read(host.Services);
            }
            catch (OptionsValidationException ex)
            {
                // A key given no value (a JSON null) is named above; its range check said "got 0" of a value nobody gave.
                var rest = UnknownSettings.NotAboutKeysWithoutValue(ex.Failures, unknown);
                if (rest.Count > 0)
                {
                    failures.Add(rest.Count == ex.Failures.Count() ? ex : new OptionsValidationException(ex.OptionsName, ex.OptionsType, rest));
                }
            }
            catch (InvalidOperationException ex) when (StartupFailure.IsWrongType(ex))
            {
                // A key the checks above named already (24:00 for a day, read as days or not at all) is said once, in their words.
                if (StartupFailure.WrongTypeKey(ex) is not { } key || !unknown.Any(u => u.StartsWith(key + ": ", StringComparison.Ordinal)))
                {
                    failures.Add(new OptionsValidationException(Options.DefaultName, type, [ex.Message]));
                }
            }
        }
        if (failures.Count > 0)
        {
            throw new AggregateException(failures);
        }
        // Whatever a feature registered beyond FeatureSettings.
        host.Services.GetService<IStartupValidator>()?.Validate();
    }

    /// <summary>
    /// Runs the host until it stops and says how it ended: 1 when a background loop failed, or ended while nobody had
    /// asked the host to stop (see <see cref="BackgroundLoops"/>). .NET 10's host stops itself when one throws but
    /// returns normally, so the process exited 0 and <c>Restart=on-failure</c> left the service down. Every
    /// <see cref="StartupLock"/> is taken first, so a start refused for a lock another process holds creates nothing.
    /// </summary>
    public static async Task<int> RunUntilStoppedAsync(this IHost host)
    {
        StartupLock.TakeAll(host.Services);
        var loops = new BackgroundLoops(host);
        try
        {
            await host.StartAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (loops.AnyFailed)
        {
            // A loop failed while later parts were still starting: the host stopped because of it, and the start of the
            // others was cancelled. That is the failure to report, not a stop that was asked for.
        }
        loops.StopWhenOneEnds();
        await host.WaitForShutdownAsync().ConfigureAwait(false);
        return loops.ReportFailures() ? 1 : 0;
    }
}
