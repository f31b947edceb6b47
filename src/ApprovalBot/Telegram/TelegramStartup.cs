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
        // Most often left from a real bot's set-up, the token taken out to try something: said at once, not by each refusal.
        if (o.ChatId != 0 && o.ChatId != sandbox.ChatId && o.ChatId != sandbox.GroupChatId)
        {
            LogChatNotInSandbox(o.ChatId, sandbox.ChatId, sandbox.GroupChatId);
        }
        if (o.Approvers.Length > 0 && !o.Approvers.Contains(sandbox.ApproverId))
        {
            LogSandboxApproverNotListed(sandbox.ApproverId);
        }
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

    [LoggerMessage(Level = LogLevel.Warning, Message =
        "ApprovalBot:Telegram:ChatId is {ChatId}, a chat the built-in sandbox does not have (its chats are {SandboxChatId}, the approver's private chat, " +
        "and {SandboxGroupChatId}, its group): every card sent there is refused \"chat not found\". Without a token leave ChatId unset (or 0) for the " +
        "sandbox's chat, or set it to {SandboxGroupChatId} for its group")]
    private partial void LogChatNotInSandbox(long chatId, long sandboxChatId, long sandboxGroupChatId);

    [LoggerMessage(Level = LogLevel.Warning, Message =
        "ApprovalBot:Telegram:Approvers does not list the sandbox's approver {ApproverId}: the taps and commands made as the approver on the sandbox's " +
        "page are refused \"Not authorized\". Without a token leave Approvers unset for the sandbox's approver")]
    private partial void LogSandboxApproverNotListed(long approverId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Telegram Bot API at {ApiBaseUrl}; cards go to chat {ChatId}; {ApproverCount} approver(s)")]
    private partial void LogRealBot(string apiBaseUrl, long chatId, int approverCount);
}
