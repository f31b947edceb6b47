using ApprovalBot.Hosting;
using Microsoft.Extensions.Configuration;

namespace ApprovalBot.Tests.Hosting;

public sealed class UnknownSettingsTests
{
    private static IReadOnlyList<string> Find(params string[] settings) =>
        UnknownSettings.Find(new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => s.Split('=', 2)).Select(p => new KeyValuePair<string, string?>(p[0], p[1])))
            .Build());

    [Theory]
    [InlineData("ApprovalBot:MaxBatchSize=10", "ApprovalBot:MaxBatchSize is not a setting (did you mean MaxBatch?).")]
    [InlineData("ApprovalBot:Pipe:MaxLineByte=2048", "ApprovalBot:Pipe:MaxLineByte is not a setting (did you mean MaxLineBytes?).")]
    [InlineData("ApprovalBot:Pipe:SocketPath=/tmp/x.sock", "ApprovalBot:Pipe:SocketPath is not a setting (known here: Name, MaxLineBytes, MaxContextBytes, MaxConnections).")]
    [InlineData("ApprovalBot:Telegramm:Token=1:x", "ApprovalBot:Telegramm is not a setting (did you mean Telegram?).")]
    [InlineData("ApprovalBot:Telegram:RateLimits:PerChatPerSec=2", "ApprovalBot:Telegram:RateLimits:PerChatPerSec is not a setting (did you mean PerChatPerSecond?).")]
    [InlineData("ApprovalBot:Kinds:reply:MaxLenght=10", "ApprovalBot:Kinds:reply:MaxLenght is not a setting (did you mean MaxLength?).")]
    [InlineData("ApprovalBot:Kinds:reply:Executor:Timeout=60", "ApprovalBot:Kinds:reply:Executor:Timeout is not a setting (did you mean TimeoutSeconds?).")]
    [InlineData("ApprovalBot:Kinds:reply:Executor:Headers:X=1", "ApprovalBot:Kinds:reply:Executor:Headers is not a setting (known here: Type, Command, Url, TimeoutSeconds, MaxAttempts, Idempotent).")]
    [InlineData("ApprovalBot:Sandbox:RateLimits:GlobalPerSecond=5", "ApprovalBot:Sandbox:RateLimits:GlobalPerSecond is not a setting (RateLimits takes a single value).")]
    [InlineData("ApprovalBot:Reconciliation:RemindEvry=01:00:00", "ApprovalBot:Reconciliation:RemindEvry is not a setting (did you mean RemindEvery?).")]
    public void Find_KeyNoSettingReads_NamesItWithTheNearestRealKey(string setting, string expected)
    {
        Assert.Equal([expected], Find(setting));
    }

    [Fact]
    public void Find_RealKeysInAnyCaseWithListsAndKinds_NoneReported()
    {
        Assert.Empty(Find(
            "ApprovalBot:DataDirectory=/data", "ApprovalBot:maxbatch=10", "ApprovalBot:Telegram:Approvers:0=1", "ApprovalBot:Telegram:Approvers:1=2",
            "ApprovalBot:Telegram:RateLimits:GlobalPerSecond=5", "ApprovalBot:Sandbox:RateLimits=false", "ApprovalBot:Kinds:thread:MaxLength=90",
            "ApprovalBot:Kinds:thread:Executor:Type=command", "ApprovalBot:Kinds:thread:Executor:Command:0=/bin/true",
            "ApprovalBot:Kinds:post:Executor:Command=/bin/true", "Serilog:MinimumLevel:Default=Warning", "Unrelated:Key=1"));
    }

    [Fact]
    public void Find_ShippedConfiguration_NoneReported()
    {
        var builder = ApprovalBotHost.CreateBuilder([]);

        Assert.Empty(UnknownSettings.Find(builder.Configuration));
    }

    [Fact]
    public void Find_SeveralUnknownKeys_EachReported()
    {
        Assert.Equal(2, Find("ApprovalBot:Pipe:Nmae=x", "ApprovalBot:Kinds:reply:StaleAftr=1.00:00:00").Count);
    }
}
