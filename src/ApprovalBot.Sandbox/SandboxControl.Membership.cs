using System.Text.Json.Nodes;
using ApprovalBot.Sandbox.State;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Sandbox;

public sealed partial class SandboxControl
{
    /// <summary>
    /// Like the user blocking the bot (a private chat) or a member removing it from the group: from now on every send and
    /// edit into the chat is answered 403 with Telegram's description for it (returned), until <see cref="AddBotToChat"/>.
    /// The chat and its messages stay. Like Telegram, the bot gets a my_chat_member update saying so (the bot's new status
    /// "kicked", or "left" in a basic group), if its allowed_updates take one; nothing when the bot was removed already.
    /// </summary>
    public string RemoveBotFromChat(long chatId)
    {
        var description = _state.Gate.Write(() =>
        {
            var chat = _state.ChatOrThrow(chatId);
            if (chat.BotRefused is null)
            {
                chat.BotRefused = chat.RemovedBotDescription;
                QueueMyChatMember(chat, removed: true);
            }

            return chat.BotRefused;
        });
        _logger.LogInformation("Bot removed from chat {ChatId}: its sends and edits there are answered 403", chatId);
        return description;
    }

    /// <summary>
    /// Lets the bot post in the chat again (unblocked, added back to the group), with the my_chat_member update Telegram
    /// sends for it (the bot's new status "member", "administrator" in a channel). Returns whether it had been removed;
    /// when it had not, nothing changed and no update is queued.
    /// </summary>
    public bool AddBotToChat(long chatId)
    {
        var wasRemoved = _state.Gate.Write(() =>
        {
            var chat = _state.ChatOrThrow(chatId);
            var removed = chat.BotRefused is not null;
            chat.BotRefused = null;
            if (removed)
            {
                QueueMyChatMember(chat, removed: false);
            }

            return removed;
        });
        _logger.LogInformation("Bot back in chat {ChatId}", chatId);
        return wasRemoved;
    }

    /// <summary>
    /// The my_chat_member update of the bot's status in <paramref name="chat"/> changing, as the Bot API shapes it
    /// (ChatMemberUpdated): done by the chat's other party in a private chat, by the approver as a member elsewhere.
    /// </summary>
    private void QueueMyChatMember(SandboxChat chat, bool removed)
    {
        var by = chat.Peer ?? _state.Approver;
        var date = _state.Now.ToUnixTimeSeconds();
        _state.Updates.Enqueue("my_chat_member", id => new JsonObject
        {
            ["update_id"] = id,
            ["my_chat_member"] = new JsonObject
            {
                ["chat"] = chat.ToJson(),
                ["from"] = by.ToJson(),
                ["date"] = date,
                ["old_chat_member"] = BotMember(chat, removed: !removed),
                ["new_chat_member"] = BotMember(chat, removed),
            },
        });
    }

    /// <summary>The bot as a ChatMember of <paramref name="chat"/>: in it (a member; an administrator who may post, in a channel) or out of it.</summary>
    private JsonObject BotMember(SandboxChat chat, bool removed)
    {
        var bot = _state.Bot.ToJson();
        return (removed, chat.Type) switch
        {
            // A basic group drops a removed member ("left"); a private chat (blocked), a supergroup and a channel ban it.
            (true, "group") => new JsonObject { ["status"] = "left", ["user"] = bot },
            (true, _) => new JsonObject { ["status"] = "kicked", ["user"] = bot, ["until_date"] = 0 },
            (false, "channel") => new JsonObject
            {
                ["status"] = "administrator", ["user"] = bot, ["can_be_edited"] = false, ["is_anonymous"] = false, ["can_manage_chat"] = false,
                ["can_delete_messages"] = false, ["can_manage_video_chats"] = false, ["can_restrict_members"] = false, ["can_promote_members"] = false,
                ["can_change_info"] = false, ["can_invite_users"] = false, ["can_post_stories"] = false, ["can_edit_stories"] = false,
                ["can_delete_stories"] = false, ["can_post_messages"] = true,
            },
            (false, _) => new JsonObject { ["status"] = "member", ["user"] = bot },
        };
    }
}
