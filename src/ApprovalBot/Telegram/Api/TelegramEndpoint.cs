namespace ApprovalBot.Telegram.Api;

/// <summary>
/// Which Bot API server the client talks to and with which token. Resolved at start: the configured server,
/// or the in-process sandbox when no token is set. Holds the token so nothing else has to.
/// </summary>
internal sealed class TelegramEndpoint
{
    private volatile Resolved? _resolved;

    public bool IsResolved => _resolved is not null;

    public void Resolve(string apiBaseUrl, string token) => _resolved = new Resolved(apiBaseUrl.TrimEnd('/'), token);

    public Uri MethodUri(string method)
    {
        var r = _resolved ?? throw new InvalidOperationException("The Telegram endpoint is not resolved yet; the Telegram start-up has not run.");
        return new Uri($"{r.BaseUrl}/bot{r.Token}/{method}");
    }

    public string BaseUrl => _resolved?.BaseUrl ?? "";

    /// <summary>Replaces the token wherever it appears, for any text that may reach a log or an exception.</summary>
    public string Redact(string? text)
    {
        if (string.IsNullOrEmpty(text)) return text ?? "";
        var r = _resolved;
        return r is null || r.Token.Length == 0 ? text : text.Replace(r.Token, "<token>", StringComparison.Ordinal);
    }

    private sealed record Resolved(string BaseUrl, string Token);
}
