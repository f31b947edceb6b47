using Microsoft.Extensions.Logging;

namespace ApprovalBot.Sandbox.Http;

/// <summary>
/// Sends the sandbox's logs to the host's logger factory while the sandbox's own filters still apply,
/// so ASP.NET Core's request logs (whose URLs carry the bot token) never reach the host's sinks.
/// </summary>
internal sealed class ForwardingLoggerProvider(ILoggerFactory target) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => target.CreateLogger(categoryName);

    // The host owns the target factory; disposing it here would cut off the host's logging.
    public void Dispose()
    {
    }
}
