using ApprovalBot.Execution;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Quartz;

namespace ApprovalBot.Telegram.Escalations;

/// <summary>
/// Telegram's word that the bot may post in the approvers' chat again (<see cref="ChatReadmission"/>) wakes the escalations
/// the chat refused, as it wakes the cards: a reconcile cycle is fired at once, which sends every escalation not delivered
/// yet, rather than at the reconcile job's next interval. Only while escalations wait on the chat
/// (<see cref="TelegramEscalationChannel.WaitsOnChat"/>), and only when the reconcile job is composed; coalesced with the
/// executor's requests (<see cref="ReconcileRequests"/>), so a burst is one extra cycle. Like every readmission, only a hint:
/// a wrong one costs one refused send, and the interval retries as before.
/// </summary>
internal sealed partial class EscalationsOnReadmission(
    ChatReadmission readmission, TelegramEscalationChannel channel, IServiceProvider services, ILogger<EscalationsOnReadmission> logger) : IHostedService
{
    private volatile bool _running;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _running = true;
        readmission.Subscribe(() =>
        {
            // The listener runs on the update poller: a scheduler call can wait on Quartz's own bookkeeping.
            if (_running && channel.WaitsOnChat)
            {
                _ = Task.Run(WakeAsync);
            }
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _running = false;
        return Task.CompletedTask;
    }

    private async Task WakeAsync()
    {
        if (services.GetService<ISchedulerFactory>() is not { } schedulers || services.GetService<ReconcileRequests>() is not { } requests)
        {
            return;
        }
        try
        {
            if (await requests.RequestAsync(await schedulers.GetScheduler().ConfigureAwait(false)).ConfigureAwait(false))
            {
                LogWoken();
            }
        }
        catch (Exception ex)
        {
            LogWakeFailed(ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "The bot may post in the approvers' chat again: the escalations that waited on it are sent now")]
    private partial void LogWoken();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not fire a reconcile cycle for the escalations that waited on the chat; the next cycle on the interval sends them")]
    private partial void LogWakeFailed(Exception ex);
}
