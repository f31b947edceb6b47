using ApprovalBot.Telegram.Api;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Telegram;

/// <summary>
/// Runs before the poller and the outbox (hosted services start in registration order): resolves which Bot
/// API server to talk to (the configured one, or the in-process sandbox when no token is set) and the chat
/// and approvers, and which bot posts the cards (<see cref="RecordedBot"/>), before anything sends one. Stops last, so the
/// sandbox outlives everything that talks to it.
/// </summary>
internal sealed partial class TelegramStartup(
    IOptions<TelegramOptions> options, TelegramEndpoint endpoint, TelegramChat chat, RecordedBot recordedBot, IServiceProvider services, ILogger<TelegramStartup> logger)
    : IHostedService
{
    private IBuiltInSandbox? _sandbox;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (!o.SandboxMode)
        {
            endpoint.Resolve(o.ApiBaseUrl, o.Token);
            chat.Initialize(o.ChatId, o.Approvers);
            LogRealBot(endpoint.BaseUrl, chat.ChatId, o.Approvers.Length);
            await recordedBot.StartAsync(RecordedBot.IdOf(o.Token)).ConfigureAwait(false);
            return;
        }
        _sandbox = services.GetService<IBuiltInSandbox>()
            ?? throw new InvalidOperationException("No ApprovalBot:Telegram:Token is set and this build has no built-in sandbox. Set a bot token from BotFather.");
        var sandbox = await _sandbox.StartAsync(cancellationToken).ConfigureAwait(false);
        endpoint.Resolve(sandbox.BaseUrl, sandbox.Token);
        chat.Initialize(o.ChatId != 0 ? o.ChatId : sandbox.ChatId, o.Approvers.Length > 0 ? o.Approvers : [sandbox.ApproverId], sandbox.FirstMessageId);
        LogSandbox(sandbox.BaseUrl + "/", chat.ChatId, sandbox.ApproverId);
        // A configured ChatId is the sandbox's chat too: the bot, not the chat, tells its cards from a real bot's.
        await recordedBot.StartAsync(RecordedBot.Sandbox).ConfigureAwait(false);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_sandbox is { } sandbox)
        {
            await sandbox.StopAsync().ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message =
        "No ApprovalBot:Telegram:Token set: running against the built-in Telegram sandbox at {SandboxUrl} (open it in a browser to approve as the sandbox approver). " +
        "Cards go to sandbox chat {ChatId}, approver {ApproverId}. To use a real bot, set ApprovalBot:Telegram:Token (from BotFather), ChatId and Approvers " +
        "(send /start to the bot to learn them; README: Connecting a real bot).")]
    private partial void LogSandbox(string sandboxUrl, long chatId, long approverId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Telegram Bot API at {ApiBaseUrl}; cards go to chat {ChatId}; {ApproverCount} approver(s)")]
    private partial void LogRealBot(string apiBaseUrl, long chatId, int approverCount);
}
