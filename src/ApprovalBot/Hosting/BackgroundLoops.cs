using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Hosting;

/// <summary>
/// The host's background loops (every <see cref="HostLoop"/>: the pipe server, the card outbox and follow-ups, the update
/// poller) and whether one ended while nobody had asked the host to stop. .NET 10's host notices only a loop that ends
/// with an exception: one cancelled by a token of its own (an inner timeout's cancellation escaping) stops it, but leaves
/// no faulted task behind, so the process exited 0; one that returns is not noticed at all, and the process ran on
/// without it. Either way a supervisor's restart-on-failure never brought the loop back.
/// </summary>
internal sealed partial class BackgroundLoops
{
    private readonly List<HostLoop> _loops;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger _logger;

    /// <summary>Before the host starts: the stop is watched from its very first moment, a stop during the start included.</summary>
    public BackgroundLoops(IHost host)
    {
        // The host builds these same singletons as it starts.
        _loops = [.. host.Services.GetServices<IHostedService>().OfType<HostLoop>()];
        _lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
        _logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(HostRun).FullName!);
        foreach (var loop in _loops)
        {
            loop.WatchStop(_lifetime.ApplicationStopping);
        }
    }

    /// <summary>
    /// Once the start is over: stops the host as soon as a loop ends (asking again for a stop under way changes nothing).
    /// A loop that returned while a later part was still starting is caught here, at once.
    /// </summary>
    public void StopWhenOneEnds()
    {
        foreach (var loop in _loops)
        {
            loop.ExecuteTask?.ContinueWith(_ => _lifetime.StopApplication(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        }
    }

    /// <summary>Whether a loop failed: it threw (whenever that was), or ended any other way before the stop was asked for.</summary>
    public bool AnyFailed => _loops.Any(Failed);

    /// <summary>Logs each failed loop at Fatal with its name and why; true when there was one.</summary>
    public bool ReportFailures()
    {
        var failed = _loops.Where(Failed).ToList();
        foreach (var loop in failed)
        {
            var name = loop.GetType().Name;
            var task = loop.ExecuteTask!;
            if (task.IsFaulted)
            {
                var cause = task.Exception!.GetBaseException();
                LogFailed(cause, name, cause.Message);
            }
            else if (task.IsCanceled)
            {
                // Awaiting a cancelled task throws the exception that cancelled it, with the stack trace of where it escaped.
                var cause = Cancellation(task);
                LogCancelled(cause, name, cause.Message);
            }
            else
            {
                LogReturned(name);
            }
        }
        return failed.Count > 0;
    }

    private static bool Failed(HostLoop loop) =>
        loop.ExecuteTask is { } task && (task.IsFaulted || (task.IsCompleted && !loop.EndedOnStop));

    private static OperationCanceledException Cancellation(Task task)
    {
        try
        {
            task.GetAwaiter().GetResult();
            throw new InvalidOperationException("the task was not cancelled");
        }
        catch (OperationCanceledException ex)
        {
            return ex;
        }
    }

    [LoggerMessage(Level = LogLevel.Critical, Message = "ApprovalBot stopped because {Service} failed: {Reason}")]
    private partial void LogFailed(Exception ex, string service, string reason);

    [LoggerMessage(Level = LogLevel.Critical,
        Message = "ApprovalBot stopped because {Service} ended unexpectedly: it was cancelled while the service was running, not by a stop ({Reason})")]
    private partial void LogCancelled(Exception ex, string service, string reason);

    [LoggerMessage(Level = LogLevel.Critical,
        Message = "ApprovalBot stopped because {Service} ended unexpectedly: it returned while the service was running, not asked to stop")]
    private partial void LogReturned(string service);
}
