using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Serilog;

namespace ApprovalBot.Hosting;

internal static class HostRun
{
    /// <summary>
    /// Refuses keys no setting reads, and runs every ValidateOnStart check, before any service is built; every failure
    /// is reported at once. The host runs the checks only after it has built its hosted services, and a constructor
    /// that reads its options (the store's, Telegram's) threw that feature's failure alone, hiding every other bad key.
    /// </summary>
    public static void ValidateConfiguration(this IHost host)
    {
        var failures = new List<OptionsValidationException>();
        var unknown = UnknownSettings.Find(host.Services.GetRequiredService<IConfiguration>());
        if (unknown.Count > 0)
        {
            failures.Add(new OptionsValidationException(Options.DefaultName, typeof(IConfiguration), unknown));
        }
        try
        {
            host.Services.GetService<IStartupValidator>()?.Validate();
        }
        catch (OptionsValidationException ex)
        {
            failures.Add(ex);
        }
        catch (AggregateException ex) when (ex.InnerExceptions.All(e => e is OptionsValidationException))
        {
            failures.AddRange(ex.InnerExceptions.Cast<OptionsValidationException>());
        }
        if (failures.Count > 0)
        {
            throw new AggregateException(failures);
        }
    }

    /// <summary>
    /// Runs the host until it stops and says how it ended: 1 when a background service failed. .NET 10's host stops
    /// itself when one throws but returns normally, so the process exited 0 and <c>Restart=on-failure</c> left the
    /// service down.
    /// </summary>
    public static async Task<int> RunUntilStoppedAsync(this IHost host)
    {
        await host.StartAsync().ConfigureAwait(false);
        await host.WaitForShutdownAsync().ConfigureAwait(false);
        var failed = host.Services.GetServices<IHostedService>()
            .OfType<BackgroundService>()
            .Where(s => s.ExecuteTask is { IsFaulted: true })
            .ToList();
        foreach (var service in failed)
        {
            var cause = service.ExecuteTask!.Exception!.GetBaseException();
            Log.Fatal(cause, "ApprovalBot stopped because {Service} failed: {Reason}", service.GetType().Name, cause.Message);
        }
        return failed.Count == 0 ? 0 : 1;
    }
}
