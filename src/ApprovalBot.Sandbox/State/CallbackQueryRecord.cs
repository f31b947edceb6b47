namespace ApprovalBot.Sandbox.State;

internal sealed class CallbackQueryRecord(string id, long fromUserId, long chatId, int messageId, string data)
{
    public string Id { get; } = id;

    public long FromUserId { get; } = fromUserId;

    public long ChatId { get; } = chatId;

    public int MessageId { get; } = messageId;

    public string Data { get; } = data;

    public CallbackAnswer? Answer { get; set; }

    /// <summary>Its answer window has ended (Telegram gives a query a short time to be answered): answering it is refused.</summary>
    public bool Expired { get; set; }
}
