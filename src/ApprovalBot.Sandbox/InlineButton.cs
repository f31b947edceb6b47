namespace ApprovalBot.Sandbox;

/// <summary>An inline keyboard button as the approver sees it.</summary>
public sealed record InlineButton(string Text, string? CallbackData, string? Url);
