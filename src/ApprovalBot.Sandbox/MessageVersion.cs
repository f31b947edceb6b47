namespace ApprovalBot.Sandbox;

/// <summary>One state of a message: the original send or an edit.</summary>
public sealed record MessageVersion
{
    /// <summary>The Bot API method that produced this version (sendMessage, editMessageText, ...).</summary>
    public required string Method { get; init; }

    public required DateTimeOffset At { get; init; }

    /// <summary>The text after entity parsing, as the approver reads it.</summary>
    public string? Text { get; init; }

    /// <summary>The text parameter exactly as the bot sent it (with HTML tags and escapes).</summary>
    public string? SourceText { get; init; }

    public string? ParseMode { get; init; }

    public string? Caption { get; init; }

    public string? ReplyMarkupJson { get; init; }

    public IReadOnlyList<IReadOnlyList<InlineButton>> Buttons { get; init; } = [];
}
