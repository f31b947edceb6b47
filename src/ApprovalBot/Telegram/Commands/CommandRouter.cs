using System.Globalization;
using System.Text.Json.Nodes;
using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Api;
using ApprovalBot.Telegram.Cards;
using ApprovalBot.Telegram.Updates;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Telegram.Commands;

/// <summary>
/// Routes <c>/name args</c> (or <c>/name@thisbot args</c>) to the registered <see cref="ITelegramCommand"/>.
/// Only approvers in the approvers' chat may run commands, except those that allow anyone (/start, for set-up),
/// which answer in any chat and are still recorded as a security event when run by anyone else. An approver's reply in the
/// approvers' chat is queued to <see cref="ApproverReplies"/>, which waits for its send slot off the update poller; any
/// other reply is sent if there is room, else dropped. Neither holds the poller waiting for a slot.
/// </summary>
internal sealed partial class CommandRouter(
    IEnumerable<ITelegramCommand> registered, TelegramChat chat, TelegramBotClient client, ApproverReplies approverReplies, DraftStore store,
    ILogger<CommandRouter> logger)
{
    public const string NotAuthorizedReason = "command_not_authorized";
    public const string SetupReason = "setup_command";

    private readonly IReadOnlyList<ITelegramCommand> _commands = [.. registered.OrderBy(c => c.Name, StringComparer.Ordinal)];

    public IReadOnlyList<ITelegramCommand> Commands => _commands;

    public async Task HandleAsync(Message message, CancellationToken cancellationToken)
    {
        if (message.From is not { } from || message.Text is not { } text || !TryParse(text, out var name, out var botName, out var arguments))
        {
            return;
        }
        // No command's name is this long; a stranger's "/" followed by a whole message went into the ledger, the log and a
        // reply in full (a message can hold 4096 characters, the reply to an approver then exceeded Telegram's limit). Logged
        // and answered shortened; the record shortens it too, keeping its length.
        var shown = RecordedText.Shorten(name);
        if (botName is not null && !string.Equals(botName, chat.BotUsername, StringComparison.OrdinalIgnoreCase))
        {
            return; // addressed to another bot in the same group
        }
        // The approvers' chat as buttons take it, the group it was upgraded from included: a command sent there just before
        // the upgrade comes in the batch whose service message moved the chat on, and is the approvers' own.
        var approver = chat.IsApprover(from.Id) && chat.IsApproversChat(message.Chat.Id);
        var command = _commands.FirstOrDefault(c => c.Name == name);
        var isPrivate = message.Chat.Type == "private";
        if (from is { Id: GroupAnonymousBotId, IsBot: true } && chat.IsApproversChat(message.Chat.Id))
        {
            // An admin with "Remain anonymous" on: Telegram sends the command as GroupAnonymousBot on behalf of the group,
            // so nobody can tell which admin it was. Refused as any stranger's, but said why, instead of silence.
            if (await RecordOnceAsync(message, from, name, NotAuthorizedReason).ConfigureAwait(false))
            {
                LogAnonymousAdmin(message.Chat.Id, shown);
            }
            await ReplyIfFreeAsync(message.Chat.Id, AnonymousAdminHint, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (!approver && command is { AllowAnyone: true })
        {
            // Set-up: whoever sends /start, wherever the bot receives it (the group that is to become ChatId included),
            // learns that chat's id and their own user id. Answered, but kept in the ledger like any other stranger's command.
            if (await RecordOnceAsync(message, from, name, SetupReason).ConfigureAwait(false))
            {
                LogSetupCommand(shown, from.Id, RecordedText.Name(from), message.Chat.Id);
            }
        }
        else if (!approver)
        {
            if (await RecordOnceAsync(message, from, name, NotAuthorizedReason).ConfigureAwait(false))
            {
                LogUnauthorized(from.Id, RecordedText.Name(from), message.Chat.Id, shown);
            }
            if (isPrivate)
            {
                await ReplyIfFreeAsync(message.Chat.Id, "⛔ Not authorized. Send /start to see your user id.", cancellationToken).ConfigureAwait(false);
            }
            return;
        }
        // An approver's command from the old group is answered in the approvers' chat: the old group takes no messages.
        var replyChat = approver ? chat.ChatId : message.Chat.Id;
        if (command is null)
        {
            await approverReplies.EnqueueAsync(replyChat, "Unknown command " + HtmlText.Escape("/" + shown) + ". /help lists the commands.", null, cancellationToken)
                .ConfigureAwait(false);
            return;
        }
        LogCommand(shown, from.Id, message.Chat.Id);
        var reply = await command.ExecuteAsync(new TelegramCommandContext(arguments, message, from, chat.IsApprover(from.Id), _commands) { ApproversChatId = chat.ChatId, ChatId = replyChat }, cancellationToken).ConfigureAwait(false);
        if (approver)
        {
            await approverReplies.EnqueueAsync(replyChat, reply, command.FullReplyHint, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await ReplyIfFreeAsync(message.Chat.Id, reply, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The security event, once per message: a redelivered update (offset not confirmed) adds nothing to the ledger,
    /// though its reply is sent again, since the first may never have gone out. True when recorded now.
    /// </summary>
    private Task<bool> RecordOnceAsync(Message message, User from, string command, string reason) =>
        store.WriteAsync(ctx => RefusalRecords.AppendOnce(ctx, null, CallbackRouter.SecurityEvent, "telegram:" + from.Id.ToString(CultureInfo.InvariantCulture),
            Describe(message, from, command, reason).ToJsonString(), ("$.chat_id", message.Chat.Id), ("$.message_id", message.MessageId)));

    /// <summary>Who sent which command where: never the message's text or arguments, and the free text bounded (<see cref="RecordedText"/>).</summary>
    private static JsonObject Describe(Message message, User from, string command, string reason)
    {
        var details = new JsonObject { ["reason"] = reason }.Put("command", command);
        details["user_id"] = from.Id;
        details.PutUser(from);
        details["chat_id"] = message.Chat.Id;
        details.Put("chat_type", message.Chat.Type);
        details["message_id"] = message.MessageId;
        return details;
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

    /// <summary>
    /// The user Telegram names as the sender of a group admin's message sent with "Remain anonymous" on (@GroupAnonymousBot,
    /// with <c>sender_chat</c> the group itself): which admin sent it is not said.
    /// </summary>
    internal const long GroupAnonymousBotId = 1087968824;

    internal const string AnonymousAdminHint =
        "⚠️ This command came from an anonymous group admin, so I cannot tell who sent it and did nothing. To use commands here, " +
        "turn off \"Remain anonymous\" in your admin rights for this group (buttons on the cards work either way).";

    internal static SendMessageRequest Reply(long chatId, string html) => new()
    {
        ChatId = chatId,
        Text = html,
        ParseMode = ParseMode.Html,
        LinkPreviewOptions = new LinkPreviewOptions(IsDisabled: true),
    };

    /// <summary>
    /// A reply to anyone but an approver in the approvers' chat (a refusal, a stranger's /start): sent only while the outgoing
    /// limits have room to spare now, in one attempt, else dropped; the command is in the ledger either way. The poller
    /// handles one update at a time and waits for each reply: one waiting for a send slot held every tap behind it, so a
    /// stranger sending commands every few seconds kept an approver's tap unanswered (a group allows 20 messages a minute).
    /// </summary>
    private async Task ReplyIfFreeAsync(long chatId, string html, CancellationToken cancellationToken)
    {
        try
        {
            if (await client.SendMessageIfFree(Reply(chatId, html), cancellationToken).ConfigureAwait(false) is null)
            {
                LogReplyDropped(chatId);
            }
        }
        catch (ApiRequestException ex)
        {
            LogReplyFailed(ex, chatId);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, EventName = "SecurityAnonymousAdminCommand",
        Message = "Security: refused command /{Command} from an anonymous admin of chat {ChatId} (\"Remain anonymous\" on: the sender is not known); told them how to send it")]
    private partial void LogAnonymousAdmin(long chatId, string command);

    [LoggerMessage(Level = LogLevel.Information, Message = "Command /{Command} from {UserId} in chat {ChatId}")]
    private partial void LogCommand(string command, long userId, long chatId);

    [LoggerMessage(Level = LogLevel.Warning, EventName = "SecurityUnauthorizedCommand", Message = "Security: refused /{Command} from user {UserId} ({UserName}) in chat {ChatId}")]
    private partial void LogUnauthorized(long userId, string userName, long chatId, string command);

    [LoggerMessage(Level = LogLevel.Warning, EventName = "SecuritySetupCommand", Message = "Security: /{Command} (set-up) from user {UserId} ({UserName}), not an approver in the approvers' chat, answered in chat {ChatId}")]
    private partial void LogSetupCommand(string command, long userId, string userName, long chatId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Reply in chat {ChatId} dropped: the outgoing limits have no room to spare now")]
    private partial void LogReplyDropped(long chatId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not reply in chat {ChatId}")]
    private partial void LogReplyFailed(Exception ex, long chatId);
}
