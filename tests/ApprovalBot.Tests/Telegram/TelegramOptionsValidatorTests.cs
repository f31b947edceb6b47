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
        ["zero rate"] = o => o.RateLimits.GlobalPerSecond = 0,
    };

    [Theory]
    [InlineData("no chat", "ApprovalBot:Telegram:ChatId")]
    [InlineData("no approvers", "ApprovalBot:Telegram:Approvers")]
    [InlineData("negative approver", "ApprovalBot:Telegram:Approvers")]
    [InlineData("relative api url", "ApprovalBot:Telegram:ApiBaseUrl")]
    [InlineData("ftp api url", "ApprovalBot:Telegram:ApiBaseUrl")]
    [InlineData("poll timeout", "ApprovalBot:Telegram:PollTimeoutSeconds")]
    [InlineData("token with space", "ApprovalBot:Telegram:Token")]
    [InlineData("zero rate", "ApprovalBot:Telegram:RateLimits")]
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
