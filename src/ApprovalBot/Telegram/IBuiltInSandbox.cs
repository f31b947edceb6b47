namespace ApprovalBot.Telegram;

/// <summary>The in-process Bot API sandbox the host runs against when no token is set.</summary>
internal interface IBuiltInSandbox
{
    Task<SandboxEndpoint> StartAsync(CancellationToken cancellationToken);

    Task StopAsync();
}

/// <summary>
/// Where the sandbox listens, its token, and its own chats (the approver's private one, <paramref name="ChatId"/>, and its
/// group) and approver. The sandbox keeps its chats in memory, so it
/// starts empty: <paramref name="FirstMessageId"/> is the first message id of each of its chats, above every card on
/// record, so a card sent before this start (now gone with the earlier sandbox) is never found on a message of this one.
/// </summary>
internal sealed record SandboxEndpoint(string BaseUrl, string Token, long ChatId, long ApproverId, long FirstMessageId, long GroupChatId);
