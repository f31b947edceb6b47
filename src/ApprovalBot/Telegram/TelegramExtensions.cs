using ApprovalBot.Reconciliation;
using ApprovalBot.Telegram.Api;
using ApprovalBot.Telegram.Cards;
using ApprovalBot.Telegram.Commands;
using ApprovalBot.Telegram.Escalations;
using ApprovalBot.Telegram.Updates;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Telegram;

internal static class TelegramExtensions
{
    /// <summary>
    /// The Telegram seam: Bot API client, card outbox, update poller (decisions, commands), card follow-ups and
    /// the escalation channel. Without a token it runs against the built-in sandbox. Other features add
    /// commands with <see cref="AddTelegramCommand{T}"/>.
    /// </summary>
    public static IHostApplicationBuilder AddTelegram(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<TelegramOptions>().BindConfiguration(TelegramOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<TelegramOptions>, TelegramOptionsValidator>();
        services.AddOptions<SandboxOptions>().BindConfiguration(SandboxOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<SandboxOptions>, SandboxOptionsValidator>();
#if !NO_SANDBOX
        services.AddSingleton<Sandbox.BuiltInSandbox>();
        services.AddSingleton<IBuiltInSandbox>(sp => sp.GetRequiredService<Sandbox.BuiltInSandbox>());
        services.AddSingleton(sp => new Hosting.StartupLock(null, () =>
        {
            if (sp.GetRequiredService<IOptions<TelegramOptions>>().Value.SandboxMode)
            {
                Sandbox.BuiltInSandbox.ThrowIfUrlInUse(sp.GetRequiredService<IOptions<SandboxOptions>>().Value.Url);
            }
        }));
#endif
        services.AddSingleton<TelegramEndpoint>();
        services.AddSingleton<OutgoingRateLimiter>();
        services.AddSingleton<TelegramBotClient>();
        services.AddSingleton<TelegramChat>();
        services.AddSingleton<ChatReadmission>();
        services.AddSingleton<CardRecords>();
        services.AddSingleton<CardSender>();
        services.AddSingleton<RecordedBot>();
        services.AddSingleton<CardResender>();
        services.AddSingleton<CallbackReplies>();
        services.AddSingleton<OrphanCallbacks>();
        services.AddSingleton<DecisionHandler>();
        services.AddSingleton<EscalationActionHandler>();
        services.AddSingleton<CallbackRouter>();
        services.AddSingleton<ApproverReplies>();
        services.AddHostedService(sp => sp.GetRequiredService<ApproverReplies>());
        services.AddSingleton<CommandRouter>();
        services.AddSingleton<BotMembership>();
        services.AddSingleton<UpdateDispatcher>();
        services.AddTelegramCommand<StartCommand>();
        services.AddTelegramCommand<HelpCommand>();
        services.AddTelegramCommand<PendingCommand>();
        services.AddTelegramCommand<StatusCommand>();
        services.AddTelegramCommand<CardCommand>();
        services.AddSingleton<TelegramEscalationChannel>();
        services.AddSingleton<IEscalationChannel>(sp => sp.GetRequiredService<TelegramEscalationChannel>());
        services.AddHostedService<EscalationsOnReadmission>();

        // Start order matters: the endpoint is resolved before anything calls the Bot API.
        services.AddHostedService<TelegramStartup>();
        services.AddSingleton<UpdateBacklog>();
        services.AddSingleton<IMissedDecisions>(sp => sp.GetRequiredService<UpdateBacklog>());
        services.AddSingleton<UpdatePoller>();
        services.AddHostedService(sp => sp.GetRequiredService<UpdatePoller>());
        services.AddSingleton<CardOutbox>();
        services.AddHostedService(sp => sp.GetRequiredService<CardOutbox>());
        services.AddSingleton<CardFollowUps>();
        services.AddHostedService(sp => sp.GetRequiredService<CardFollowUps>());
        services.AddSingleton<VanishedCardResender>();
        services.AddSingleton<VanishedCardsOnReadmission>();
        services.AddSingleton<VanishedCards>();
        services.AddHostedService(sp => sp.GetRequiredService<VanishedCards>());
        return builder;
    }

    public static IServiceCollection AddTelegramCommand<T>(this IServiceCollection services)
        where T : class, ITelegramCommand =>
        services.AddSingleton<ITelegramCommand, T>();
}
