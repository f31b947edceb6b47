namespace ApprovalBot.Sandbox;

public sealed record BotCommandInfo(string Command, string Description);
