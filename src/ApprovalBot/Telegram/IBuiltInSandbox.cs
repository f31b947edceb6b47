namespace ApprovalBot.Telegram;

/// <summary>The in-process Bot API sandbox the host runs against when no token is set.</summary>
internal interface IBuiltInSandbox
{
    Task<SandboxEndpoint> StartAsync(CancellationToken cancellationToken);

    Task StopAsync();
}

/// <summary>Where the sandbox listens, its token, and its own chat and approver.</summary>
internal sealed record SandboxEndpoint(string BaseUrl, string Token, long ChatId, long ApproverId);
