using System.Text.Json.Nodes;
using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Api;
using ApprovalBot.Telegram.Cards;
using ApprovalBot.Telegram.Updates;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Telegram.Commands;

/// <summary>
/// Routes <c>/name args</c> (or <c>/name@thisbot args</c>) to the registered <see cref="ITelegramCommand"/>.
/// Only approvers in the approvers' chat may run commands, except those that allow anyone in a private chat.
/// </summary>
internal sealed partial class CommandRouter(
    IEnumerable<ITelegramCommand> registered, TelegramChat chat, TelegramBotClient client, DraftStore store, ILogger<CommandRouter> logger)
{
    private readonly IReadOnlyList<ITelegramCommand> _commands = [.. registered.OrderBy(c => c.Name, StringComparer.Ordinal)];

    public IReadOnlyList<ITelegramCommand> Commands => _commands;

    public async Task HandleAsync(Message message, CancellationToken cancellationToken)
    {
        if (message.From is not { } from || message.Text is not { } text || !TryParse(text, out var name, out var botName, out var arguments))
        {
            return;
        }
        if (botName is not null && !string.Equals(botName, chat.BotUsername, StringComparison.OrdinalIgnoreCase))
        {
            return; // addressed to another bot in the same group
        }
        var approver = chat.IsApprover(from.Id) && message.Chat.Id == chat.ChatId;
        var command = _commands.FirstOrDefault(c => c.Name == name);
        var isPrivate = message.Chat.Type == "private";
        if (!approver && !(command is not null && command.AllowAnyoneInPrivateChat && isPrivate))
        {
            LogUnauthorized(from.Id, from.DisplayName, message.Chat.Id, name);
            var details = new JsonObject
            {
                ["reason"] = "command_not_authorized",
                ["command"] = name,
                ["user_id"] = from.Id,
                ["user_name"] = from.DisplayName,
                ["chat_id"] = message.Chat.Id,
            };
            await store.AppendEventAsync(null, CallbackRouter.SecurityEvent, "telegram:" + from.Id, details.ToJsonString(), cancellationToken).ConfigureAwait(false);
            if (isPrivate)
            {
                await ReplyAsync(message, "⛔ Not authorized. Send /start to see your user id.", cancellationToken).ConfigureAwait(false);
            }
            return;
        }
        if (command is null)
        {
            await ReplyAsync(message, "Unknown command " + HtmlText.Escape("/" + name) + ". /help lists the commands.", cancellationToken).ConfigureAwait(false);
            return;
        }
        LogCommand(name, from.Id, message.Chat.Id);
        var reply = await command.ExecuteAsync(new TelegramCommandContext(arguments, message, from, chat.IsApprover(from.Id), _commands), cancellationToken).ConfigureAwait(false);
        await ReplyAsync(message, reply, cancellationToken).ConfigureAwait(false);
    }

    public static bool TryParse(string text, out string name, out string? botName, out string arguments)
    {
        name = "";
        botName = null;
        arguments = "";
        if (!text.StartsWith('/'))
        {
            return false;
        }
        var end = text.IndexOfAny([' ', '\n', '\t']);
        var head = end < 0 ? text[1..] : text[1..end];
        arguments = end < 0 ? "" : text[(end + 1)..].Trim();
        var at = head.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            botName = head[(at + 1)..];
            head = head[..at];
        }
        name = head.ToLowerInvariant();
        return name.Length > 0;
    }

    private async Task ReplyAsync(Message to, string html, CancellationToken cancellationToken)
    {
        try
        {
            await client.SendMessage(new SendMessageRequest
            {
                ChatId = to.Chat.Id,
                Text = html,
                ParseMode = ParseMode.Html,
                LinkPreviewOptions = new LinkPreviewOptions(IsDisabled: true),
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (ApiRequestException ex) when (ex.ErrorCode == 400 && ex.Description.Contains("too long", StringComparison.OrdinalIgnoreCase))
        {
            // A command's reply outgrew one message; say so rather than stay silent.
            LogReplyFailed(ex, to.Chat.Id);
            await ReplyAsync(to, "⚠️ The reply is too long for one Telegram message; approvalctl shows it in full.", cancellationToken).ConfigureAwait(false);
        }
        catch (ApiRequestException ex)
        {
            LogReplyFailed(ex, to.Chat.Id);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Command /{Command} from {UserId} in chat {ChatId}")]
    private partial void LogCommand(string command, long userId, long chatId);

    [LoggerMessage(Level = LogLevel.Warning, EventName = "SecurityUnauthorizedCommand", Message = "Security: refused /{Command} from user {UserId} ({UserName}) in chat {ChatId}")]
    private partial void LogUnauthorized(long userId, string userName, long chatId, string command);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not reply in chat {ChatId}")]
    private partial void LogReplyFailed(Exception ex, long chatId);
}
