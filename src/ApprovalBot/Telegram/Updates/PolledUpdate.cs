using System.Text.Json;
using ApprovalBot.Telegram.Api;

namespace ApprovalBot.Telegram.Updates;

/// <summary>
/// One update of a polled batch, read once for every pass over the batch (the migration pre-pass, then handling):
/// the update, or why it is skipped (<see cref="Malformed"/>), and the offset that confirms it.
/// </summary>
/// <param name="UpdateId">Its update_id, -1 when it has none usable (for the log line).</param>
/// <param name="ConfirmedBy">The offset that confirms it; null when the offset cannot move past it (no usable update_id).</param>
/// <param name="Update">The update; null when malformed, or when the Bot API sent <c>null</c>.</param>
/// <param name="Malformed">Why it is skipped as malformed, or null.</param>
internal sealed record PolledUpdate(long UpdateId, long? ConfirmedBy, Update? Update, string? Malformed)
{
    public static PolledUpdate Read(JsonElement raw)
    {
        if (raw.ValueKind != JsonValueKind.Object || !raw.TryGetProperty("update_id", out var idElement)
            || idElement.ValueKind != JsonValueKind.Number || !idElement.TryGetInt64(out var updateId))
        {
            // Without an id there is nothing to confirm; later updates' ids move the offset past it.
            return new PolledUpdate(-1, null, null, "no usable update_id (missing, or not an integer)");
        }
        if (updateId is < 0 or long.MaxValue)
        {
            // Bot API ids are positive and far from long.MaxValue. The offset confirming this one, update_id + 1, would be
            // negative or wrap to long.MinValue; a negative offset asks getUpdates for the last -offset updates and forgets
            // all the others, handled or not. Not handled either: it could never be confirmed, so it would come back, and
            // be answered again, on every poll.
            return new PolledUpdate(updateId, null, null, "update_id out of range, the offset cannot move past it");
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

    /// <summary>The group and supergroup a service message of this update names (Telegram sends one in each), if any.</summary>
    public (long From, long To)? Migration => Update?.Message switch
    {
        { MigrateToChatId: { } to } m => (m.Chat.Id, to),
        { MigrateFromChatId: { } from } m => (from, m.Chat.Id),
        _ => null,
    };
}
