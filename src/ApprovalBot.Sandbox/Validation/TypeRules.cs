using System.Text;
using System.Text.Json.Nodes;
using ApprovalBot.Sandbox.Spec;

namespace ApprovalBot.Sandbox.Validation;

/// <summary>Rules the spec states in prose rather than in field types; only those our product can trip over.</summary>
internal static class TypeRules
{
    private const int MaxCallbackDataBytes = 64;

    // The spec: "Exactly one of the fields other than text, icon_custom_emoji_id, and style must be used".
    private static readonly HashSet<string> ButtonDecorations = ["text", "icon_custom_emoji_id", "style"];

    public static string? Check(JsonObject obj, TypeSpec type, string path) => type.Name switch
    {
        "InlineKeyboardButton" => CheckInlineButton(obj, path),
        "BotCommand" => CheckBotCommand(obj),
        _ => null,
    };

    private static string? CheckInlineButton(JsonObject button, string path)
    {
        if (string.IsNullOrEmpty((string?)button["text"]))
        {
            return "BUTTON_TEXT_INVALID";
        }

        var actions = button.Select(p => p.Key).Where(k => !ButtonDecorations.Contains(k)).ToArray();
        if (actions.Length == 0)
        {
            return "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard";
        }

        if (actions.Length > 1)
        {
            return $"can't parse inline keyboard button: {path} must use exactly one of its action fields, found {string.Join(", ", actions)}";
        }

        if (button["callback_data"] is { } data)
        {
            var bytes = Encoding.UTF8.GetByteCount((string)data!);
            if (bytes is 0 or > MaxCallbackDataBytes)
            {
                return "BUTTON_DATA_INVALID";
            }
        }

        if (button["url"] is { } url && string.IsNullOrWhiteSpace((string?)url))
        {
            return "BUTTON_URL_INVALID";
        }

        return null;
    }

    private static string? CheckBotCommand(JsonObject command)
    {
        var name = (string?)command["command"] ?? "";
        if (name.Length is 0 or > 32 || !name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_'))
        {
            return "BOT_COMMAND_INVALID";
        }

        var description = (string?)command["description"] ?? "";
        return description.Length is 0 or > 256 ? "BOT_COMMAND_DESCRIPTION_INVALID" : null;
    }
}
