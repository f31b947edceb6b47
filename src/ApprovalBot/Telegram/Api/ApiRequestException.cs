namespace ApprovalBot.Telegram.Api;

/// <summary>
/// A Bot API call that failed: an error envelope from the server (<see cref="ErrorCode"/> is its HTTP status),
/// or a network failure or timeout (<see cref="ErrorCode"/> 0). The message never contains the token.
/// </summary>
internal sealed class ApiRequestException(string method, int errorCode, string description, int? retryAfter = null, long? migrateToChatId = null)
    : Exception($"Bot API {method} failed: {(errorCode == 0 ? "" : errorCode + " ")}{description}")
{
    public string Method { get; } = method;

    /// <summary>The Bot API error_code (its HTTP status); 0 for a network failure or timeout.</summary>
    public int ErrorCode { get; } = errorCode;

    public string Description { get; } = description;

    public int? RetryAfter { get; } = retryAfter;

    public long? MigrateToChatId { get; } = migrateToChatId;

    /// <summary>Worth resending the same call: the server or the path to it failed, or it asked us to slow down.</summary>
    public bool IsTransient => ErrorCode is 0 or 429 or >= 500;

    public bool IsNotModified => ErrorCode == 400 && Description.Contains("message is not modified", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Telegram will never take an edit of this message: it was deleted, or it cannot be edited. Unlike a refusal for the
    /// whole chat (the bot blocked or removed, a revoked token), which an operator can undo, this one is for good.
    /// </summary>
    public bool IsMessageGone => ErrorCode == 400 &&
        (Description.Contains("message to edit not found", StringComparison.OrdinalIgnoreCase) || Description.Contains("message can't be edited", StringComparison.OrdinalIgnoreCase));

    public bool IsQueryTooOld => ErrorCode == 400 && Description.Contains("query is too old", StringComparison.OrdinalIgnoreCase);
}
