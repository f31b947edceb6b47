using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalBot.Sandbox.Formatting;
using ApprovalBot.Sandbox.State;

namespace ApprovalBot.Sandbox;

public sealed partial class SandboxControl
{
    /// <summary>
    /// Presses an inline button as a user (the approver by default) and queues the callback_query update.
    /// <paramref name="chatId"/> makes the press come from another chat, for "tap from the wrong chat" tests;
    /// <paramref name="requireButton"/> false allows forged callback data no button carries. <paramref name="inaccessible"/>
    /// sends the message as Telegram does for a button on an old message the bot can no longer see (an InaccessibleMessage:
    /// chat, message_id and date 0, no text or buttons), as it does for a deleted one.
    /// </summary>
    public PressedButton PressButton(int messageId, string callbackData, long? fromUserId = null, long? chatId = null, bool requireButton = true, bool inaccessible = false)
    {
        ArgumentNullException.ThrowIfNull(callbackData);
        return _state.Gate.Write(() =>
        {
            var from = _state.UserOrThrow(fromUserId ?? _state.Approver.Id);
            var chat = _state.Chats.GetValueOrDefault(chatId ?? PrivateChatId) ?? StrangeChat(chatId!.Value);
            var message = chat.Find(messageId) ?? _state.Chats[PrivateChatId].Find(messageId);
            if (requireButton && message?.Current.ReplyMarkup is null)
            {
                throw new InvalidOperationException($"Message {messageId} has no inline keyboard to press.");
            }

            if (requireButton && !InlineKeyboard.Buttons(message!.Current.ReplyMarkup).SelectMany(r => r).Any(b => b.CallbackData == callbackData))
            {
                throw new InvalidOperationException($"Message {messageId} has no button with callback_data \"{callbackData}\".");
            }

            var query = _state.Callbacks.Create(from.Id, chat.Id, messageId, callbackData);
            var updateId = _state.Updates.Enqueue("callback_query", id => new JsonObject
            {
                ["update_id"] = id,
                ["callback_query"] = new JsonObject
                {
                    ["id"] = query.Id,
                    ["from"] = from.ToJson(),
                    ["message"] = (inaccessible ? null : message?.ToJson(asSeenIn: chat)) ?? InaccessibleMessage(chat, messageId),
                    ["chat_instance"] = ChatInstance(chat.Id),
                    ["data"] = callbackData,
                },
            });
            return new PressedButton(query.Id, updateId);
        });
    }

    /// <summary>Sends a text from a user (the approver by default) to the bot; a leading /command gets its bot_command entity.</summary>
    public UserMessage SendUserMessage(string text, long? fromUserId = null, long? chatId = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(text);
        if (text.Length > MessageTextParser.MaxTextLength)
        {
            // A Telegram client cannot send a longer one, so a bot is never handed it.
            throw new ArgumentException($"text is {text.Length} characters; a Telegram message has at most {MessageTextParser.MaxTextLength}.", nameof(text));
        }
        return _state.Gate.Write(() =>
        {
            var from = _state.UserOrThrow(fromUserId ?? _state.Approver.Id);
            var chat = _state.ChatOrThrow(chatId ?? from.Id);
            var now = _state.Now;
            var content = new FormattedText(text, CommandEntities(text));
            var message = new StoredMessage(chat, chat.NextMessageId(), from, now, new StoredVersion("user", now, content, text, null, null, null), null);
            chat.Messages.Add(message);
            var updateId = _state.Updates.Enqueue("message", id => new JsonObject { ["update_id"] = id, ["message"] = message.ToJson() });
            return new UserMessage(chat.Id, message.MessageId, updateId);
        });
    }

    /// <summary>
    /// Deletes a message as a chat administrator does in a Telegram client (by hand, by accident, while tidying): it is gone
    /// from the chat, an edit of it is answered 400 "message to edit not found" and its buttons can no longer be pressed.
    /// Telegram tells the bot nothing. Throws when the chat has no such message.
    /// </summary>
    public void DeleteMessage(long chatId, int messageId) => _state.Gate.Write(() =>
    {
        var chat = _state.ChatOrThrow(chatId);
        var message = chat.Find(messageId) ?? throw new ArgumentException($"Chat {chatId} has no message {messageId}.", nameof(messageId));
        chat.Messages.Remove(message);
    });

    /// <summary>
    /// Hands a queued update over after every update queued behind it, so a batch comes out of update_id order; an offset
    /// past the later ones confirms it too, as with Telegram. Throws when the update is not queued (never queued, or
    /// confirmed already).
    /// </summary>
    public void DeliverLast(long updateId)
    {
        if (!_state.Gate.Write(() => _state.Updates.MoveToEnd(updateId)))
        {
            throw new ArgumentException($"Update {updateId} is not queued.", nameof(updateId));
        }
    }

    /// <summary>
    /// The ids of the updates queued from now on start at <paramref name="nextId"/>, below those handed over before, as
    /// Telegram does after a bot had no updates for a week; a getUpdates offset from before confirms none of them.
    /// </summary>
    public void RestartUpdateIdsAt(long nextId) => _state.Gate.Write(() => _state.Updates.RestartIdsAt(nextId));

    /// <summary>
    /// Queues an update exactly as given, for hostile-update tests; it bypasses the bot's allowed_updates.
    /// Its update_id is overwritten with the next id unless <paramref name="assignUpdateId"/> is false;
    /// either way the returned id is what getUpdates' offset confirms it by.
    /// </summary>
    public long EnqueueRawUpdate(string json, bool assignUpdateId = true)
    {
        JsonNode node;
        try
        {
            node = JsonNode.Parse(json) ?? throw new ArgumentException("A raw update must not be JSON null.", nameof(json));
        }
        catch (JsonException e)
        {
            throw new ArgumentException("A raw update must be valid JSON: " + e.Message, nameof(json), e);
        }

        return _state.Gate.Write(() => _state.Updates.EnqueueRaw(node, assignUpdateId));
    }

    private static TextEntity[] CommandEntities(string text)
    {
        if (!text.StartsWith('/'))
        {
            return [];
        }

        var end = 1;
        while (end < text.Length && !char.IsWhiteSpace(text[end]))
        {
            end++;
        }

        return end > 1 ? [new TextEntity("bot_command", 0, end)] : [];
    }

    private static SandboxChat StrangeChat(long chatId) => chatId > 0
        ? new SandboxChat(chatId, "private", null, new SandboxUser(chatId, "Stranger", IsBot: false))
        : new SandboxChat(chatId, "supergroup", "Some other chat", null);

    /// <summary>What Telegram attaches when the pressed message is no longer accessible to the bot.</summary>
    private static JsonObject InaccessibleMessage(SandboxChat chat, int messageId) =>
        new() { ["chat"] = chat.ToJson(), ["message_id"] = messageId, ["date"] = 0 };

    private static string ChatInstance(long chatId) =>
        unchecked((long)((ulong)chatId * 0x9E3779B97F4A7C15UL >> 1)).ToString(CultureInfo.InvariantCulture);
}
