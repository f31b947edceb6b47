namespace ApprovalBot.Sandbox;

/// <summary>What the bot answered to a button press (the toast or alert the approver would see).</summary>
public sealed record CallbackAnswer(string QueryId, string? Text, bool ShowAlert, string? Url, long? CacheTime, DateTimeOffset At);
