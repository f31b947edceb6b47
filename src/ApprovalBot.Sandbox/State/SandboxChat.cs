using System.Text.Json.Nodes;

namespace ApprovalBot.Sandbox.State;

/// <summary>
/// A chat and its transcript (the bot's and the users' messages share one id sequence, as in Telegram), its ids
/// starting at <paramref name="firstMessageId"/>.
/// </summary>
internal sealed class SandboxChat(long id, string type, string? title, SandboxUser? peer, int firstMessageId = 1)
{
    private int _lastMessageId = firstMessageId - 1;

    public long Id { get; } = id;

    public string Type { get; private set; } = type;

    public string? Title { get; } = title;

    /// <summary>The other party of a private chat.</summary>
    public SandboxUser? Peer { get; } = peer;

    /// <summary>Set when the group was upgraded to a supergroup: sends must then go to the new id.</summary>
    public long? MigratedTo { get; set; }

    /// <summary>
    /// Set while the bot may not post here (blocked by the user, removed from the group): Telegram's description of the
    /// 403 every send and edit into this chat is answered with.
    /// </summary>
    public string? BotRefused { get; set; }

    /// <summary>The 403 description Telegram gives a bot that was blocked by the user (private chat) or removed from the group.</summary>
    public string RemovedBotDescription => Type switch
    {
        "private" => "Forbidden: bot was blocked by the user",
        "channel" => "Forbidden: bot is not a member of the channel chat",
        _ => $"Forbidden: bot was kicked from the {Type} chat",
    };

    public List<StoredMessage> Messages { get; } = [];

    public int NextMessageId() => ++_lastMessageId;

    public StoredMessage? Find(long messageId) => Messages.FirstOrDefault(m => m.MessageId == messageId);

    public JsonObject ToJson()
    {
        var json = new JsonObject { ["id"] = Id };
        if (Peer is not null)
        {
            json["first_name"] = Peer.FirstName;
            if (Peer.Username is not null)
            {
                json["username"] = Peer.Username;
            }
        }
        else
        {
            json["title"] = Title;
        }

        json["type"] = Type;
        return json;
    }
}
