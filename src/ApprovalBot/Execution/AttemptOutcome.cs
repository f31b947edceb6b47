namespace ApprovalBot.Execution;

/// <summary>How one attempt ended: executed with a result, or failed (retryable or not) with a reason.</summary>
internal sealed record AttemptOutcome(bool Succeeded, string? Result, string? Error, bool Retryable)
{
    /// <summary>Bound on stored results and errors, so a chatty sink cannot bloat the store or the card.</summary>
    public const int MaxResultChars = 1000;
    public const int MaxErrorChars = 2000;

    public static AttemptOutcome Success(string? result) => new(true, Bound(result, MaxResultChars), null, false);

    public static AttemptOutcome Failure(string error, bool retryable) => new(false, null, Bound(error, MaxErrorChars), retryable);

    public static string? Bound(string? value, int max) =>
        value is null || value.Length <= max ? value : value[..max] + "…";

    public static string? FirstLine(string? text)
    {
        if (string.IsNullOrEmpty(text)) return null;
        var end = text.IndexOfAny(['\r', '\n']);
        var line = (end >= 0 ? text[..end] : text).Trim();
        return line.Length == 0 ? null : line;
    }
}
