using ApprovalBot.Sandbox.State;

namespace ApprovalBot.Sandbox.Http;

/// <summary>A chat as the human page shows it: every message, the users' too, with the current buttons.</summary>
internal sealed record TranscriptView(long Version, long ChatId, string ChatTitle, IReadOnlyList<TranscriptMessage> Messages)
{
    public static TranscriptView From(long version, SandboxChat chat) => new(
        version,
        chat.Id,
        chat.Title ?? chat.Peer?.FirstName ?? chat.Id.ToString(System.Globalization.CultureInfo.InvariantCulture),
        chat.Messages.Select(m => new TranscriptMessage(
            m.MessageId,
            m.From.FirstName,
            m.From.IsBot,
            m.Date,
            m.Current.Text?.Text,
            m.Current.Caption?.Text,
            m.Document is { } d ? new TranscriptDocument(d.FileId, d.FileName, d.Content.Length) : null,
            m.Versions.Count - 1,
            InlineKeyboard.Buttons(m.Current.ReplyMarkup))).ToArray());
}

internal sealed record TranscriptMessage(
    int MessageId,
    string From,
    bool FromBot,
    DateTimeOffset Date,
    string? Text,
    string? Caption,
    TranscriptDocument? Document,
    int EditCount,
    IReadOnlyList<IReadOnlyList<InlineButton>> Buttons);

internal sealed record TranscriptDocument(string FileId, string FileName, int Size);
