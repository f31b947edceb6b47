using System.Text.Json.Nodes;
using ApprovalBot.Sandbox.Formatting;

namespace ApprovalBot.Sandbox.State;

internal sealed record StoredVersion(
    string Method,
    DateTimeOffset At,
    FormattedText? Text,
    string? SourceText,
    string? ParseMode,
    FormattedText? Caption,
    JsonObject? ReplyMarkup)
{
    /// <summary>Telegram's "message is not modified" compares what the user would see: text, entities and keyboard.</summary>
    public bool SameContentAs(StoredVersion other) =>
        (Text?.SameAs(other.Text) ?? other.Text is null)
        && (Caption?.SameAs(other.Caption) ?? other.Caption is null)
        && ReplyMarkup?.ToJsonString() == other.ReplyMarkup?.ToJsonString();

    public MessageVersion ToPublic() => new()
    {
        Method = Method,
        At = At,
        Text = Text?.Text,
        SourceText = SourceText,
        ParseMode = ParseMode,
        Caption = Caption?.Text,
        ReplyMarkupJson = ReplyMarkup?.ToJsonString(),
        Buttons = InlineKeyboard.Buttons(ReplyMarkup),
    };
}
