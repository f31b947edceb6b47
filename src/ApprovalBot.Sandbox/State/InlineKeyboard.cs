using System.Text.Json.Nodes;

namespace ApprovalBot.Sandbox.State;

internal static class InlineKeyboard
{
    public static IReadOnlyList<IReadOnlyList<InlineButton>> Buttons(JsonObject? replyMarkup) =>
        replyMarkup?["inline_keyboard"] is JsonArray rows
            ? rows.OfType<JsonArray>()
                .Select(row => (IReadOnlyList<InlineButton>)row.OfType<JsonObject>()
                    .Select(b => new InlineButton((string?)b["text"] ?? "", (string?)b["callback_data"], (string?)b["url"]))
                    .ToArray())
                .ToArray()
            : [];
}
