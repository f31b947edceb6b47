namespace ApprovalBot.Sandbox;

/// <summary>A snapshot of a message the bot sent, as it stands now, with every earlier version.</summary>
public sealed record SentMessage
{
    public required long ChatId { get; init; }

    public required int MessageId { get; init; }

    public required DateTimeOffset Date { get; init; }

    /// <summary>Oldest first; the last one is the current content.</summary>
    public required IReadOnlyList<MessageVersion> Versions { get; init; }

    public SentDocument? Document { get; init; }

    public MessageVersion Current => Versions[^1];

    public string? Text => Current.Text;

    public string? SourceText => Current.SourceText;

    public string? ParseMode => Current.ParseMode;

    public string? Caption => Current.Caption;

    public string? ReplyMarkupJson => Current.ReplyMarkupJson;

    public IReadOnlyList<IReadOnlyList<InlineButton>> Buttons => Current.Buttons;

    public int EditCount => Versions.Count - 1;

    public IEnumerable<InlineButton> AllButtons => Buttons.SelectMany(row => row);
}
