namespace ApprovalBot.Telegram.Api;

// Request bodies, one per method, sent as JSON with snake_case names and nulls left out.

internal sealed record GetUpdatesRequest
{
    public long? Offset { get; init; }
    public int? Limit { get; init; }
    public int? Timeout { get; init; }
    public IReadOnlyList<string>? AllowedUpdates { get; init; }
}

internal sealed record DeleteWebhookRequest
{
    public bool? DropPendingUpdates { get; init; }
}

internal sealed record SendMessageRequest
{
    public required long ChatId { get; init; }
    public required string Text { get; init; }
    public string? ParseMode { get; init; }
    public InlineKeyboardMarkup? ReplyMarkup { get; init; }
    public LinkPreviewOptions? LinkPreviewOptions { get; init; }
}

internal sealed record EditMessageTextRequest
{
    public required long ChatId { get; init; }
    public required long MessageId { get; init; }
    public required string Text { get; init; }
    public string? ParseMode { get; init; }

    /// <summary>Null removes the inline keyboard, as on Telegram.</summary>
    public InlineKeyboardMarkup? ReplyMarkup { get; init; }
    public LinkPreviewOptions? LinkPreviewOptions { get; init; }
}

internal sealed record EditMessageReplyMarkupRequest
{
    public required long ChatId { get; init; }
    public required long MessageId { get; init; }
    public InlineKeyboardMarkup? ReplyMarkup { get; init; }
}

internal sealed record DeleteMessageRequest
{
    public required long ChatId { get; init; }
    public required long MessageId { get; init; }
}

internal sealed record AnswerCallbackQueryRequest
{
    public required string CallbackQueryId { get; init; }
    public string? Text { get; init; }
    public bool? ShowAlert { get; init; }
}

internal sealed record SetMyCommandsRequest
{
    public required IReadOnlyList<BotCommand> Commands { get; init; }
}

/// <summary>Sent as multipart/form-data; the file goes as an upload named <see cref="FileName"/>.</summary>
internal sealed record SendDocumentRequest
{
    public required long ChatId { get; init; }
    public required string FileName { get; init; }
    public required byte[] Content { get; init; }
    public string? Caption { get; init; }
    public string? ParseMode { get; init; }
    public InlineKeyboardMarkup? ReplyMarkup { get; init; }
}

internal sealed record EmptyRequest;
