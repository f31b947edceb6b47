using ApprovalBot.Reconciliation;
using ApprovalBot.Telegram.Updates;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ApprovalBot.Tests.Reconciliation;

/// <summary>
/// After a start with Telegram, the reconcile cycles are held until the updates that waited at Telegram are in, and the
/// held cycle then runs by itself (<see cref="ReconcileWhenDecisionsTakenIn"/>). A test that counts what cycles escalate
/// waits for both first, so that cycle cannot land in the middle of what the test causes.
/// </summary>
internal static class HeldCycle
{
    public static async Task SettledAsync(IServiceProvider services, TimeSpan timeout)
    {
        if (services.GetService<UpdateBacklog>() is { } backlog)
        {
            await backlog.Handled.WaitAsync(timeout);
        }
        foreach (var runner in services.GetServices<IHostedService>().OfType<ReconcileWhenDecisionsTakenIn>())
        {
            await runner.Completion.WaitAsync(timeout);
        }
    }
}
