namespace ApprovalBot.Sandbox;

/// <summary>
/// A refusal in Telegram's own shape: handlers throw it and the endpoint turns it into the
/// {"ok":false,...} envelope with the HTTP status equal to the error code.
/// </summary>
internal sealed class BotApiException(int errorCode, string description, int? retryAfter = null, long? migrateToChatId = null)
    : Exception(description)
{
    public int ErrorCode { get; } = errorCode;

    public string Description { get; } = description;

    public int? RetryAfter { get; } = retryAfter;

    public long? MigrateToChatId { get; } = migrateToChatId;

    public static BotApiException BadRequest(string detail) => new(400, "Bad Request: " + detail);

    public static BotApiException NotFound() => new(404, "Not Found");

    public static BotApiException Unauthorized() => new(401, "Unauthorized");

    public static BotApiException TooManyRequests(int retryAfter) =>
        new(429, $"Too Many Requests: retry after {retryAfter}", retryAfter);
}
