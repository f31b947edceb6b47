namespace ApprovalBot.Sandbox;

public sealed record SentDocument(string FileId, string FileName, string? MimeType, byte[] Content);
