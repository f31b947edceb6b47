namespace ApprovalBot.Sandbox;

/// <summary>A message a simulated user sent to the bot.</summary>
public sealed record UserMessage(long ChatId, int MessageId, long UpdateId);
