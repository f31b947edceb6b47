namespace ApprovalBot.Sandbox;

/// <summary>The callback query a simulated button press created.</summary>
public sealed record PressedButton(string QueryId, long UpdateId);
