using System.Text.Json.Nodes;

namespace ApprovalBot.Sandbox.State;

/// <summary>A message in a chat transcript; mutable only through the state lock.</summary>
internal sealed class StoredMessage(SandboxChat chat, int messageId, SandboxUser from, DateTimeOffset date, StoredVersion first, StoredDocument? document)
{
    public SandboxChat Chat { get; } = chat;

    public int MessageId { get; } = messageId;

    public SandboxUser From { get; } = from;

    public DateTimeOffset Date { get; } = date;

    public StoredDocument? Document { get; } = document;

    public List<StoredVersion> Versions { get; } = [first];

    public StoredVersion Current => Versions[^1];

    /// <summary>The Message object; <paramref name="asSeenIn"/> lets a simulated press claim the message sits in another chat.</summary>
    public JsonObject ToJson(SandboxChat? asSeenIn = null)
    {
        var current = Current;
        var json = new JsonObject
        {
            ["message_id"] = MessageId,
            ["from"] = From.ToJson(),
            ["chat"] = (asSeenIn ?? Chat).ToJson(),
            ["date"] = Date.ToUnixTimeSeconds(),
        };
        if (Versions.Count > 1)
        {
            json["edit_date"] = current.At.ToUnixTimeSeconds();
        }

        if (current.Text is { } text)
        {
            json["text"] = text.Text;
            AddEntities(json, "entities", text);
        }

        if (Document is not null)
        {
            json["document"] = Document.ToJson();
        }

        if (current.Caption is { } caption)
        {
            json["caption"] = caption.Text;
            AddEntities(json, "caption_entities", caption);
        }

        if (current.ReplyMarkup is not null)
        {
            json["reply_markup"] = current.ReplyMarkup.DeepClone();
        }

        return json;
    }

    public SentMessage ToPublic() => new()
    {
        ChatId = Chat.Id,
        MessageId = MessageId,
        Date = Date,
        Versions = Versions.Select(v => v.ToPublic()).ToArray(),
        Document = Document?.ToPublic(),
    };

    private static void AddEntities(JsonObject json, string name, Formatting.FormattedText text)
    {
        if (text.Entities.Count == 0)
        {
            return;
        }

        var entities = new JsonArray();
        foreach (var e in text.Entities)
        {
            var entity = new JsonObject { ["type"] = e.Type, ["offset"] = e.Offset, ["length"] = e.Length };
            if (e.Url is not null)
            {
                entity["url"] = e.Url;
            }

            if (e.Language is not null)
            {
                entity["language"] = e.Language;
            }

            if (e.CustomEmojiId is not null)
            {
                entity["custom_emoji_id"] = e.CustomEmojiId;
            }

            entities.Add(entity);
        }

        json[name] = entities;
    }
}
