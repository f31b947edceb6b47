using Microsoft.Extensions.DependencyInjection;

namespace ApprovalBot.Tests.Telegram;

/// <summary>
/// Gives one host component its own clock, so a test can see that component's waits (its backoff) begin and end them by
/// moving the clock, while the rest of the host (store timestamps, rate limits, the other components' waits) keeps real time.
/// </summary>
internal static class ClockedServices
{
    /// <summary>
    /// Registers <typeparamref name="T"/> built with <paramref name="clock"/> as its <see cref="TimeProvider"/> (its other
    /// dependencies from the container). It is registered last, so it wins, and the hosted-service registrations that
    /// resolve <typeparamref name="T"/> run this instance.
    /// </summary>
    public static IServiceCollection UseClock<T>(this IServiceCollection services, TimeProvider clock)
        where T : class =>
        services.AddSingleton(sp => ActivatorUtilities.CreateInstance<T>(sp, clock));
}
