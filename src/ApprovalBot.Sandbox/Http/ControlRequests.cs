namespace ApprovalBot.Sandbox.Http;

internal sealed record PressRequest(int MessageId, string CallbackData, long? FromUserId, long? ChatId, bool RequireButton = true, bool Inaccessible = false);

internal sealed record SendRequest(string Text, long? FromUserId, long? ChatId);

internal sealed record FaultRequest(
    string Method,
    SandboxFaultKind Kind,
    int Times = 1,
    int ErrorCode = 0,
    string? Description = null,
    int? RetryAfter = null,
    long? MigrateToChatId = null,
    int? HangMs = null,
    ResponseLossMode LossMode = ResponseLossMode.AbortConnection)
{
    public SandboxFault ToFault() => new()
    {
        Kind = Kind,
        ErrorCode = ErrorCode,
        Description = Description ?? (RetryAfter is { } r ? $"Too Many Requests: retry after {r}" : null),
        RetryAfter = RetryAfter,
        MigrateToChatId = MigrateToChatId,
        HangFor = HangMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null,
        LossMode = LossMode,
    };
}

internal sealed record RateLimitRequest(bool Enabled);

internal sealed record MigrateRequest(long ToChatId, bool Notify = true);
