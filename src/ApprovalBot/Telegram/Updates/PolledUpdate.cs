using System.Text.Json;
using ApprovalBot.Telegram.Api;

namespace ApprovalBot.Telegram.Updates;

/// <summary>
/// One update of a polled batch, read once for every pass over the batch (the migration pre-pass, then handling):
/// the update, or why it is skipped (<see cref="Malformed"/>), and the offset that confirms it.
/// </summary>
/// <param name="UpdateId">Its update_id; null when it has none that can be read (missing, not an integer, given twice).</param>
/// <param name="ConfirmedBy">The offset that confirms it; null when the offset cannot move past it (no usable update_id).</param>
/// <param name="Update">The update; null when malformed, or when the Bot API sent <c>null</c>.</param>
/// <param name="Malformed">Why it is skipped as malformed, or null.</param>
internal sealed record PolledUpdate(long? UpdateId, long? ConfirmedBy, Update? Update, string? Malformed)
{
    public static PolledUpdate Read(JsonElement raw)
    {
        if (raw.ValueKind != JsonValueKind.Object)
        {
            // Without an id there is nothing to confirm; later updates' ids move the offset past it.
            return new PolledUpdate(null, null, null, "not a JSON object");
        }
        // A key given twice is read last-value-wins by the deserializer: a second "data" or "from" would be believed over
        // the first. Telegram sends no such update, so any is refused whole, wherever the key is, read by the bot or not.
        var repeated = RepeatedKey(raw, "$");
        // Looked for on its own: another key given twice before it in the document would be found first, and the id
        // read last-value-wins would be confirmed.
        if (raw.EnumerateObject().Count(p => p.NameEquals("update_id")) > 1)
        {
            return new PolledUpdate(null, null, null, "duplicate field 'update_id' in $");
        }
        if (!raw.TryGetProperty("update_id", out var idElement))
        {
            return new PolledUpdate(null, null, null, "update_id missing");
        }
        if (idElement.ValueKind != JsonValueKind.Number || !idElement.TryGetInt64(out var updateId))
        {
            return new PolledUpdate(null, null, null, "update_id is not an integer");
        }
        if (updateId is < 0 or long.MaxValue)
        {
            // Bot API ids are positive and far from long.MaxValue. The offset confirming this one, update_id + 1, would be
            // negative or wrap to long.MinValue; a negative offset asks getUpdates for the last -offset updates and forgets
            // all the others, handled or not. Not handled either: it could never be confirmed, so it would come back, and
            // be answered again, on every poll.
            return new PolledUpdate(updateId, null, null, "update_id out of range, the offset cannot move past it");
        }
        if (repeated is var (path, name))
        {
            return new PolledUpdate(updateId, updateId + 1, null, $"duplicate field '{RecordedText.Shorten(name)}' in {RecordedText.Shorten(path)}");
        }
        try
        {
            return new PolledUpdate(updateId, updateId + 1, raw.Deserialize(TelegramJsonContext.Default.Update), null);
        }
        catch (JsonException ex)
        {
            return new PolledUpdate(updateId, updateId + 1, null, ex.Message);
        }
    }

    /// <summary>The first object in <paramref name="element"/> (document order) that has a key twice: where, and the key.</summary>
    private static (string Path, string Name)? RepeatedKey(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var names = new HashSet<string>(StringComparer.Ordinal);
                foreach (var property in element.EnumerateObject())
                {
                    // A name with an escaped lone surrogate cannot be decoded, nor compared: no Bot API key is one.
                    var name = NameOf(property);
                    if (name is not null && !names.Add(name))
                    {
                        return (path, name);
                    }
                    if (RepeatedKey(property.Value, $"{path}.{name ?? "?"}") is { } found)
                    {
                        return found;
                    }
                }
                return null;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (RepeatedKey(item, $"{path}[{i++}]") is { } found)
                    {
                        return found;
                    }
                }
                return null;
            default:
                return null;
        }
    }

    private static string? NameOf(JsonProperty property)
    {
        try
        {
            return property.Name;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>The group and supergroup a service message of this update names (Telegram sends one in each), if any.</summary>
    public (long From, long To)? Migration => Update?.Message switch
    {
        { MigrateToChatId: { } to } m => (m.Chat.Id, to),
        { MigrateFromChatId: { } from } m => (from, m.Chat.Id),
        _ => null,
    };
}
