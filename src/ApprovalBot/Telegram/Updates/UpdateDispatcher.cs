using ApprovalBot.Telegram.Api;
using ApprovalBot.Telegram.Commands;

namespace ApprovalBot.Telegram.Updates;

/// <summary>
/// Sends each update to what handles it: button presses to the callback gate, slash commands to the router, the
/// service messages of a group upgraded to a supergroup to the chat, which follows the new id at once (so taps and
/// commands from the supergroup are not refused as coming from the wrong chat), and changes of the bot's own status in
/// a chat (my_chat_member) to <see cref="BotMembership"/>. Anything else is ignored.
/// </summary>
internal sealed class UpdateDispatcher(CallbackRouter callbacks, CommandRouter commands, BotMembership membership, TelegramChat chat)
{
    public static readonly IReadOnlyList<string> AllowedUpdates = ["message", "callback_query", "my_chat_member"];

    public Task HandleAsync(Update update, CancellationToken cancellationToken)
    {
        if (update.MyChatMember is { } change)
        {
            return membership.HandleAsync(update.UpdateId, change);
        }
        if (update.CallbackQuery is { } query)
        {
            return callbacks.HandleAsync(query, cancellationToken);
        }
        if (update.Message is { } message)
        {
            // Telegram sends both: migrate_to_chat_id in the old group, migrate_from_chat_id in the new supergroup.
            if (message.MigrateToChatId is { } to)
            {
                return chat.FollowMigrationAsync(message.Chat.Id, to);
            }
            if (message.MigrateFromChatId is { } from)
            {
                return chat.FollowMigrationAsync(from, message.Chat.Id);
            }
            if (message.Text is { } text && text.StartsWith('/'))
            {
                return commands.HandleAsync(message, cancellationToken);
            }
        }
        return Task.CompletedTask;
    }
}
