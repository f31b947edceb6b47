using ApprovalBot.Telegram;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Tests.Telegram;

public sealed class TelegramOptionsValidatorTests
{
    private const string Token = "123456:REAL-token-secret";

    private static readonly Dictionary<string, Action<TelegramOptions>> Spoilers = new()
    {
        ["no chat"] = o => o.ChatId = 0,
        ["no approvers"] = o => o.Approvers = [],
        ["negative approver"] = o => o.Approvers = [-5],
        ["relative api url"] = o => o.ApiBaseUrl = "api.telegram.org",
        ["ftp api url"] = o => o.ApiBaseUrl = "ftp://api.telegram.org",
        ["poll timeout"] = o => o.PollTimeoutSeconds = 90,
        ["token with space"] = o => o.Token = "123 456",
        ["token with a question mark"] = o => o.Token = "123456:REAL-token-secret?x=1",
        ["token with a percent"] = o => o.Token = "123456:REAL-token%2Fsecret",
        ["token without the bot id"] = o => o.Token = "REAL-token-secret",
        ["token of only spaces"] = o => o.Token = "   ",
        ["token ending in a newline"] = o => o.Token = "123456:REAL-token-secret\n",
        ["zero rate"] = o => o.RateLimits.GlobalPerSecond = 0,
        // NaN passed "<= 0": every card after the first then failed for good.
        ["NaN chat rate"] = o => o.RateLimits.PerChatPerSecond = double.NaN,
        ["infinite chat rate"] = o => o.RateLimits.PerChatPerSecond = double.PositiveInfinity,
        ["tiny chat rate"] = o => o.RateLimits.PerChatPerSecond = 1e-300,
        ["card retry over a day"] = o => o.CardRetryMaxDelaySeconds = 90 * 86_400,
    };

    [Theory]
    [InlineData("no chat", "ApprovalBot:Telegram:ChatId")]
    [InlineData("no approvers", "ApprovalBot:Telegram:Approvers")]
    [InlineData("negative approver", "ApprovalBot:Telegram:Approvers")]
    [InlineData("relative api url", "ApprovalBot:Telegram:ApiBaseUrl")]
    [InlineData("ftp api url", "ApprovalBot:Telegram:ApiBaseUrl")]
    [InlineData("poll timeout", "ApprovalBot:Telegram:PollTimeoutSeconds")]
    [InlineData("token with space", "ApprovalBot:Telegram:Token must be a bot token")]
    [InlineData("token with a question mark", "ApprovalBot:Telegram:Token must be a bot token")]
    [InlineData("token with a percent", "ApprovalBot:Telegram:Token must be a bot token")]
    [InlineData("token without the bot id", "ApprovalBot:Telegram:Token must be a bot token")]
    [InlineData("token of only spaces", "ApprovalBot:Telegram:Token is only whitespace")]
    [InlineData("token ending in a newline", "ApprovalBot:Telegram:Token must be a bot token")]
    [InlineData("zero rate", "ApprovalBot:Telegram:RateLimits")]
    [InlineData("NaN chat rate", "ApprovalBot:Telegram:RateLimits:PerChatPerSecond must be a number between 0.001 and 1000 (got NaN)")]
    [InlineData("infinite chat rate", "ApprovalBot:Telegram:RateLimits:PerChatPerSecond")]
    [InlineData("tiny chat rate", "ApprovalBot:Telegram:RateLimits:PerChatPerSecond")]
    [InlineData("card retry over a day", "ApprovalBot:Telegram:CardRetryMaxDelaySeconds must be between CardRetryBaseDelaySeconds (5) and 86400 (got 7776000)")]
    public void Validate_WithTokenAndBadSetting_FailsNamingTheKey(string scenario, string key)
    {
        var options = new TelegramOptions { Token = Token, ChatId = -100_42, Approvers = [1001] };
        Spoilers[scenario](options);

        var result = new TelegramOptionsValidator().Validate(null, options);

        Assert.True(result.Failed, scenario);
        Assert.Contains(result.Failures!, f => f.StartsWith(key, StringComparison.Ordinal));
        Assert.DoesNotContain(result.Failures!, f => f.Contains("REAL-token-secret", StringComparison.Ordinal));
    }

    /// <summary>
    /// Each value just outside the README's range, with a token, chat and approvers that are right: exactly one message,
    /// naming the bad key and its value (and no other key).
    /// </summary>
    [Theory]
    [InlineData("PollTimeoutSeconds=-1", "ApprovalBot:Telegram:PollTimeoutSeconds must be between 0 and 50 (got -1).")]
    [InlineData("PollTimeoutSeconds=51", "ApprovalBot:Telegram:PollTimeoutSeconds must be between 0 and 50 (got 51).")]
    [InlineData("HttpTimeoutSeconds=0", "ApprovalBot:Telegram:HttpTimeoutSeconds must be between 1 and 600 (got 0).")]
    [InlineData("HttpTimeoutSeconds=601", "ApprovalBot:Telegram:HttpTimeoutSeconds must be between 1 and 600 (got 601).")]
    [InlineData("MaxCallRetries=-1", "ApprovalBot:Telegram:MaxCallRetries must be between 0 and 20 (got -1).")]
    [InlineData("MaxCallRetries=21", "ApprovalBot:Telegram:MaxCallRetries must be between 0 and 20 (got 21).")]
    [InlineData("RetryBaseDelayMs=0", "ApprovalBot:Telegram:RetryBaseDelayMs must be between 1 and 60000 (got 0).")]
    [InlineData("RetryBaseDelayMs=60001", "ApprovalBot:Telegram:RetryBaseDelayMs must be between 1 and 60000 (got 60001).")]
    [InlineData("CardMaxAttempts=0", "ApprovalBot:Telegram:CardMaxAttempts must be between 1 and 1000 (got 0).")]
    [InlineData("CardMaxAttempts=1001", "ApprovalBot:Telegram:CardMaxAttempts must be between 1 and 1000 (got 1001).")]
    [InlineData("CardSweepSeconds=0", "ApprovalBot:Telegram:CardSweepSeconds must be between 1 and 86400 (got 0).")]
    [InlineData("CardSweepSeconds=86401", "ApprovalBot:Telegram:CardSweepSeconds must be between 1 and 86400 (got 86401).")]
    [InlineData("CardRetryBaseDelaySeconds=0", "ApprovalBot:Telegram:CardRetryBaseDelaySeconds must be between 1 and 86400 (got 0).")]
    [InlineData("CardRetryMaxDelaySeconds=4", "ApprovalBot:Telegram:CardRetryMaxDelaySeconds must be between CardRetryBaseDelaySeconds (5) and 86400 (got 4).")]
    [InlineData("CardRetryMaxDelaySeconds=86401", "ApprovalBot:Telegram:CardRetryMaxDelaySeconds must be between CardRetryBaseDelaySeconds (5) and 86400 (got 86401).")]
    [InlineData("ApiBaseUrl=https://api.telegram.org?x=1", "ApprovalBot:Telegram:ApiBaseUrl must be an absolute http(s) URL without a query or fragment, such as https://api.telegram.org (got 'https://api.telegram.org?x=1').")]
    [InlineData("ApiBaseUrl=https://api.telegram.org#x", "ApprovalBot:Telegram:ApiBaseUrl must be an absolute http(s) URL without a query or fragment, such as https://api.telegram.org (got 'https://api.telegram.org#x').")]
    [InlineData("RateLimits:PerChatBurst=0", "ApprovalBot:Telegram:RateLimits:PerChatBurst must be at least 1 (got 0).")]
    [InlineData("RateLimits:PerGroupPerMinute=-3", "ApprovalBot:Telegram:RateLimits:PerGroupPerMinute must be at least 1 (got -3).")]
    [InlineData("RateLimits:GlobalPerSecond=0", "ApprovalBot:Telegram:RateLimits:GlobalPerSecond must be at least 1 (got 0).")]
    [InlineData("RateLimits:PerChatPerSecond=0.0001", "ApprovalBot:Telegram:RateLimits:PerChatPerSecond must be a number between 0.001 and 1000 (got 0.0001).")]
    public void Validate_BadValue_OneErrorNamingTheKeyAndValue(string setting, string expected) =>
        Assert.Equal([expected], BoundOptions.Errors(new TelegramOptionsValidator(), TelegramOptions.Section, $"Token={Token}", "ChatId=-10042", "Approvers:0=1001", setting));

    [Fact]
    public void Validate_WithTokenChatAndApprovers_Succeeds() =>
        Assert.True(new TelegramOptionsValidator().Validate(null, new TelegramOptions { Token = Token, ChatId = 42, Approvers = [7] }).Succeeded);

    [Fact]
    public void Validate_NoToken_SandboxNeedsNothingElse() =>
        Assert.True(new TelegramOptionsValidator().Validate(null, new TelegramOptions()).Succeeded);

    [Fact]
    public async Task Start_TokenWithoutChatId_HostRefusesNamingTheKey()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => TestHost.StartAsync(
            settings: [$"ApprovalBot:Telegram:Token={Token}", "ApprovalBot:Telegram:Approvers:0=7"],
            compose: b => b.AddTelegram()));

        Assert.Contains("ApprovalBot:Telegram:ChatId", ex.Message);
        Assert.DoesNotContain("REAL-token-secret", ex.Message);
    }
}
