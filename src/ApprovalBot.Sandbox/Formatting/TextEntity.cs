namespace ApprovalBot.Sandbox.Formatting;

/// <summary>A MessageEntity; offsets and lengths in UTF-16 code units like Telegram's.</summary>
internal sealed record TextEntity(string Type, int Offset, int Length, string? Url = null, string? Language = null, string? CustomEmojiId = null);
