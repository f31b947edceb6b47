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
    [InlineData("card retry over a day", "ApprovalBot:Telegram:CardRetryBaseDelaySeconds must be at least 1 and CardRetryMaxDelaySeconds at least that and at most 86400")]
    public void Validate_WithTokenAndBadSetting_FailsNamingTheKey(string scenario, string key)
    {
        var options = new TelegramOptions { Token = Token, ChatId = -100_42, Approvers = [1001] };
        Spoilers[scenario](options);

        var result = new TelegramOptionsValidator().Validate(null, options);

        Assert.True(result.Failed, scenario);
        Assert.Contains(result.Failures!, f => f.StartsWith(key, StringComparison.Ordinal));
        Assert.DoesNotContain(result.Failures!, f => f.Contains("REAL-token-secret", StringComparison.Ordinal));
    }

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
