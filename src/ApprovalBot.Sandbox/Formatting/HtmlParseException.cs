namespace ApprovalBot.Sandbox.Formatting;

internal sealed class HtmlParseException(string message) : Exception(message);
