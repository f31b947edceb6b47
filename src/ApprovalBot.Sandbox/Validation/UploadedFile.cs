namespace ApprovalBot.Sandbox.Validation;

internal sealed record UploadedFile(string FileName, string? ContentType, byte[] Content);
