namespace ApprovalBot.Telegram.Api;

/// <summary>
/// A Bot API call that failed: an error envelope from the server (<see cref="ErrorCode"/> is its HTTP status),
/// a network failure or timeout (<see cref="ErrorCode"/> 0), or an answer that could not be read
/// (<see cref="OutcomeUnknown"/>). The message never contains the token.
/// </summary>
internal sealed class ApiRequestException(
    string method, int errorCode, string description, int? retryAfter = null, long? migrateToChatId = null, bool outcomeUnknown = false)
    : Exception($"Bot API {method} failed: {Describe(errorCode, description)}")
{
    public string Method { get; } = method;

    /// <summary>The Bot API error_code (its HTTP status); 0 for a network failure or timeout.</summary>
    public int ErrorCode { get; } = errorCode;

    public string Description { get; } = description;

    /// <summary>The error code (none for a network failure, a timeout or an answer that could not be read) and the description.</summary>
    public string Reason => Describe(ErrorCode, Description);

    /// <summary>The call was <c>sendDocument</c> (a long draft's file, sent before its card): the card itself was not sent yet.</summary>
    public bool IsDocumentSend => Method == TelegramBotClient.SendDocumentMethod;

    public int? RetryAfter { get; } = retryAfter;

    public long? MigrateToChatId { get; } = migrateToChatId;

    /// <summary>
    /// Whether the call was carried out is not known: Telegram answered 200, which it does only for a call it carried out,
    /// but the answer could not be read (not JSON, no <c>result</c>, or a result not of the type the method returns); or,
    /// for a message sent, no answer came in time or the connection was lost after the request went out, or a 5xx came
    /// back (on real Telegram a slow answer or a proxy's 502 mostly follows a message that was posted). An edit or an
    /// answer is done or harmless to repeat; a message sent was most likely posted, without the bot learning its id, so
    /// sending it again may post a second copy. <see cref="ErrorCode"/> is the 5xx, else 0.
    /// </summary>
    public bool OutcomeUnknown { get; } = outcomeUnknown;

    /// <summary>
    /// Worth resending the same call: the server or the path to it failed, or it asked us to slow down. An answer that could
    /// not be read (<see cref="OutcomeUnknown"/>) counts too: resending is harmless for an edit or an answer, and a message
    /// sent is only resent by a caller that needs its id (a card), never by the client itself.
    /// </summary>
    public bool IsTransient => ErrorCode is 0 or 429 or >= 500;

    public bool IsNotModified => ErrorCode == 400 && Description.Contains("message is not modified", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Telegram will never take an edit of this message: it was deleted, or it cannot be edited. Unlike a refusal for the
    /// whole chat (the bot blocked or removed, a revoked token), which an operator can undo, this one is for good.
    /// </summary>
    public bool IsMessageGone => ErrorCode == 400 &&
        (Description.Contains("message to edit not found", StringComparison.OrdinalIgnoreCase) || Description.Contains("message can't be edited", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Telegram refuses the bot token itself: 401 (revoked in BotFather, or wrong) or 404 (no bot at that address: a
    /// mistyped token, or an ApiBaseUrl that is not a Bot API server). Every call fails the same way until the service
    /// runs with a working token, so it is nobody's failure but the configuration's, and never a reason to give up on one card.
    /// </summary>
    public bool IsTokenRefused => ErrorCode is 401 or 404;

    /// <summary>
    /// Telegram refuses the bot in the chat the call addresses: 403 (the user blocked the bot, it was removed from the
    /// group, it is not a member) or 400 "chat not found" (a wrong chat id, or a chat the bot was never in), "have no
    /// rights to send a message" or "not enough rights to send text messages" (the group took away its right to post), or
    /// "need administrator rights in the channel chat", or, in a forum supergroup, "TOPIC_CLOSED" (its General topic, where
    /// the bot posts, closed) or "message thread not found". Every card for that chat fails the same way until someone lets the
    /// bot back in (or fixes the chat id), so it is no card's failure, and never a reason to give up on one card. A refusal
    /// of one kind of message only ("not enough rights to send documents": a long draft's file) is that card's own.
    /// </summary>
    public bool IsChatRefused => ErrorCode == 403 || (ErrorCode == 400 && ChatRefusals.Any(r => Description.Contains(r, StringComparison.OrdinalIgnoreCase)));

    private static readonly string[] ChatRefusals =
        [
            "chat not found", "have no rights to send a message", "not enough rights to send text messages", "need administrator rights in the channel chat",
            "TOPIC_CLOSED", "message thread not found",
        ];

    /// <summary>getUpdates refused because a webhook is set for this bot (by another deployment, or a tool).</summary>
    public bool IsWebhookActive => ErrorCode == 409 && Description.Contains("webhook is active", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Telegram refused an edit with 400 for a reason other than "not modified", a migration or a refusal of the whole chat
    /// (<see cref="IsChatRefused"/>, which passes once the bot is let back in): the message is gone or
    /// too old, or the edit itself is refused (the text too long, HTML it cannot parse). Sending the same edit again gets
    /// the same answer; only a change of the draft (a new rendering) can make a difference.
    /// </summary>
    public bool IsEditRefused => ErrorCode == 400 && !IsNotModified && MigrateToChatId is null && !IsChatRefused;

    private static string Describe(int errorCode, string description) => (errorCode == 0 ? "" : errorCode + " ") + description;

    public bool IsQueryTooOld => ErrorCode == 400 && Description.Contains("query is too old", StringComparison.OrdinalIgnoreCase);
}
