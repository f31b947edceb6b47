using System.Globalization;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Telegram;

internal sealed partial class TelegramOptionsValidator : IValidateOptions<TelegramOptions>
{
    private const string P = TelegramOptions.Section + ":";

    public ValidateOptionsResult Validate(string? name, TelegramOptions o)
    {
        var errors = new List<string>();
        if (o.SandboxMode && o.Token.Length > 0)
        {
            // An environment variable set to a space: taken for "no token", it ran the sandbox while the operator meant the bot.
            errors.Add(P + "Token is only whitespace: leave it empty to run the built-in sandbox, or give the bot token from BotFather.");
        }
        if (!o.SandboxMode)
        {
            if (!BotToken().IsMatch(o.Token))
            {
                // Never echo the token: the message would end up in a log line. '?', '#' or '%' would change the URL it goes in.
                errors.Add(P + "Token must be a bot token from BotFather: the bot's id (digits), a colon, then the secret (letters, digits, '_' and '-'), without spaces.");
            }
            if (o.ChatId == 0)
            {
                errors.Add(P + "ChatId must be set to the chat that receives cards when a Token is set (send /start to the bot to learn it).");
            }
            if (o.Approvers.Length == 0)
            {
                errors.Add(P + "Approvers must list at least one Telegram user id when a Token is set (send /start to the bot to learn yours).");
            }
        }
        if (o.Approvers.Any(id => id <= 0))
        {
            errors.Add(P + $"Approvers must be positive Telegram user ids (got {string.Join(", ", o.Approvers.Where(id => id <= 0))}).");
        }
        // Each call's URL is this, "/bot<token>/" and the method: a query or a fragment would swallow the rest.
        if (!Uri.TryCreate(o.ApiBaseUrl, UriKind.Absolute, out var api) || api.Scheme is not ("http" or "https") || o.ApiBaseUrl.AsSpan().IndexOfAny('?', '#') >= 0)
        {
            errors.Add(P + $"ApiBaseUrl must be an absolute http(s) URL without a query or fragment, such as {TelegramOptions.DefaultApiBaseUrl} (got '{o.ApiBaseUrl}').");
        }
        if (o.PollTimeoutSeconds is < 0 or > 50)
        {
            errors.Add(P + $"PollTimeoutSeconds must be between 0 and 50 (got {o.PollTimeoutSeconds}).");
        }
        if (o.HttpTimeoutSeconds is < 1 or > 600)
        {
            errors.Add(P + $"HttpTimeoutSeconds must be between 1 and 600 (got {o.HttpTimeoutSeconds}).");
        }
        if (o.MaxCallRetries is < 0 or > 20)
        {
            errors.Add(P + $"MaxCallRetries must be between 0 and 20 (got {o.MaxCallRetries}).");
        }
        if (o.RetryBaseDelayMs is < 1 or > 60_000)
        {
            errors.Add(P + $"RetryBaseDelayMs must be between 1 and 60000 (got {o.RetryBaseDelayMs}).");
        }
        if (o.CardMaxAttempts is < 1 or > 1000)
        {
            errors.Add(P + $"CardMaxAttempts must be between 1 and 1000 (got {o.CardMaxAttempts}).");
        }
        // At most a day, like the other intervals: a wait beyond ~49 days is more than a timer takes, and the retry waiting it was lost.
        if (o.CardRetryBaseDelaySeconds is < 1 or > 86_400)
        {
            errors.Add(P + $"CardRetryBaseDelaySeconds must be between 1 and 86400 (got {o.CardRetryBaseDelaySeconds}).");
        }
        else if (o.CardRetryMaxDelaySeconds < o.CardRetryBaseDelaySeconds || o.CardRetryMaxDelaySeconds > 86_400)
        {
            errors.Add(P + $"CardRetryMaxDelaySeconds must be between CardRetryBaseDelaySeconds ({o.CardRetryBaseDelaySeconds}) and 86400 (got {o.CardRetryMaxDelaySeconds}).");
        }
        if (o.CardSweepSeconds is < 1 or > 86_400)
        {
            errors.Add(P + $"CardSweepSeconds must be between 1 and 86400 (got {o.CardSweepSeconds}).");
        }
        var r = o.RateLimits;
        // NaN passed "<= 0" and made every card after the first fail for good; a tiny rate made its interval overflow.
        if (!(r.PerChatPerSecond is >= 0.001 and <= 1000))
        {
            errors.Add(P + $"RateLimits:PerChatPerSecond must be a number between 0.001 and 1000 (got {r.PerChatPerSecond.ToString(CultureInfo.InvariantCulture)}).");
        }
        foreach (var (key, value) in new[] { ("PerChatBurst", r.PerChatBurst), ("PerGroupPerMinute", r.PerGroupPerMinute), ("GlobalPerSecond", r.GlobalPerSecond) })
        {
            if (value < 1)
            {
                errors.Add(P + $"RateLimits:{key} must be at least 1 (got {value}).");
            }
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    // \z, not $: $ also matches before a final newline, which a token read from a file often has.
    [System.Text.RegularExpressions.GeneratedRegex("^[0-9]+:[A-Za-z0-9_-]+\\z")]
    private static partial System.Text.RegularExpressions.Regex BotToken();
}
