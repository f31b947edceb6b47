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
    [InlineData("ApprovalBot:Pipe:SocketPath=/tmp/x.sock", "ApprovalBot:Pipe:SocketPath is not a setting (known here: Name, MaxLineBytes, MaxContextBytes, MaxConnections, LineTimeout).")]
    [InlineData("ApprovalBot:Telegramm:Token=1:x", "ApprovalBot:Telegramm is not a setting (did you mean Telegram?).")]
    [InlineData("ApprovalBot:Telegram:RateLimits:PerChatPerSec=2", "ApprovalBot:Telegram:RateLimits:PerChatPerSec is not a setting (did you mean PerChatPerSecond?).")]
    [InlineData("ApprovalBot:Kinds:reply:MaxLenght=10", "ApprovalBot:Kinds:reply:MaxLenght is not a setting (did you mean MaxLength?).")]
    [InlineData("ApprovalBot:Kinds:reply:ExpiresAfter=2.00:00:00", "ApprovalBot:Kinds:reply:ExpiresAfter is not a setting (did you mean ExpireAfter?).")]
    [InlineData("ApprovalBot:Kinds:reply:Expire=2.00:00:00", "ApprovalBot:Kinds:reply:Expire is not a setting (did you mean ExpireAfter?).")]
    [InlineData("ApprovalBot:Kinds:reply:ExpireAfter:Days=2", "ApprovalBot:Kinds:reply:ExpireAfter:Days is not a setting (ExpireAfter takes a single value).")]
    [InlineData("ApprovalBot:Kinds:reply:Executor:Timeout=60", "ApprovalBot:Kinds:reply:Executor:Timeout is not a setting (did you mean TimeoutSeconds?).")]
    [InlineData("ApprovalBot:Kinds:reply:Executor:Headers:X=1", "ApprovalBot:Kinds:reply:Executor:Headers is not a setting (known here: Type, Command, Url, TimeoutSeconds, MaxAttempts, Idempotent).")]
    [InlineData("ApprovalBot:Sandbox:RateLimits:GlobalPerSecond=5", "ApprovalBot:Sandbox:RateLimits:GlobalPerSecond is not a setting (RateLimits takes a single value).")]
    [InlineData("ApprovalBot:Reconciliation:RemindEvry=01:00:00", "ApprovalBot:Reconciliation:RemindEvry is not a setting (did you mean RemindEvery?).")]
    // Keys the binder passes over without an error: each left a setting out, without a word.
    [InlineData("ApprovalBot:Kinds:thread=500", "ApprovalBot:Kinds:thread is a kind: give its settings below it (e.g. ApprovalBot:Kinds:thread:MaxLength=500), not a value.")]
    [InlineData("ApprovalBot:Pipe=x", "ApprovalBot:Pipe is a group of settings (such as ApprovalBot:Pipe:…), not a value.")]
    [InlineData("ApprovalBot:Telegram:RateLimits=5", "ApprovalBot:Telegram:RateLimits is a group of settings (PerChatPerSecond, PerChatBurst, PerGroupPerMinute, GlobalPerSecond), not a value.")]
    [InlineData("ApprovalBot:Telegram:Approvers=777", "ApprovalBot:Telegram:Approvers is a list: give each item a key of its own, ApprovalBot:Telegram:Approvers:0=777, ApprovalBot:Telegram:Approvers:1=… (in the environment ApprovalBot__Telegram__Approvers__0=…).")]
    [InlineData("ApprovalBot:Telegram:Approvers:0=l001", "ApprovalBot:Telegram:Approvers:0: 'l001' is not a whole number (Approvers is a list of whole numbers).")]
    [InlineData("ApprovalBot:Kinds:post:Executor:Command=/bin/echo  hi there", "ApprovalBot:Kinds:post:Executor:Command is a list: give each item a key of its own, ApprovalBot:Kinds:post:Executor:Command:0=/bin/echo, ApprovalBot:Kinds:post:Executor:Command:1=hi, ApprovalBot:Kinds:post:Executor:Command:2=there (in the environment ApprovalBot__Kinds__post__Executor__Command__0=…).")]
    [InlineData("ApprovalBot:Kinds:post:Executor:Command=/bin/true", "ApprovalBot:Kinds:post:Executor:Command is a list: give each item a key of its own, ApprovalBot:Kinds:post:Executor:Command:0=/bin/true, ApprovalBot:Kinds:post:Executor:Command:1=… (in the environment ApprovalBot__Kinds__post__Executor__Command__0=…).")]
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
            "ApprovalBot:Kinds:thread:ExpireAfter=2.00:00:00", "ApprovalBot:Kinds:post:expireafter=",
            "ApprovalBot:Kinds:thread:Executor:Type=command", "ApprovalBot:Kinds:thread:Executor:Command:0=/bin/true",
            "ApprovalBot:Telegram:RateLimits:PerChatPerSecond=0.5", "ApprovalBot:Telegram:Approvers:2=-1001", "Serilog:MinimumLevel:Default=Warning", "Unrelated:Key=1"));
    }

    [Fact]
    public void Find_ShippedConfiguration_NoneReported()
    {
        var builder = ApprovalBotHost.CreateBuilder([]);

        Assert.Empty(UnknownSettings.Find(builder.Configuration));
    }

    [Theory]
    [InlineData("ApprovalBot:Kinds:reply:StaleAfter=30", "ApprovalBot:Kinds:reply:StaleAfter: '30' is a number without a unit; write the duration as [d.]hh:mm:ss: 30.00:00:00 for 30 days, 00:30:00 for 30 minutes, 00:00:30 for 30 seconds.")]
    [InlineData("ApprovalBot:Kinds:reply:ExpireAfter=2", "ApprovalBot:Kinds:reply:ExpireAfter: '2' is a number without a unit; write the duration as [d.]hh:mm:ss: 2.00:00:00 for 2 days, 02:00:00 for 2 hours, 00:02:00 for 2 minutes, 00:00:02 for 2 seconds.")]
    [InlineData("ApprovalBot:Kinds:reply:StuckAfter= 90 ", "ApprovalBot:Kinds:reply:StuckAfter: ' 90 ' is a number without a unit; write the duration as [d.]hh:mm:ss: 90.00:00:00 for 90 days, 00:01:30 for 90 seconds.")]
    [InlineData("ApprovalBot:Reconciliation:RemindEvery=6", "ApprovalBot:Reconciliation:RemindEvery: '6' is a number without a unit; write the duration as [d.]hh:mm:ss: 6.00:00:00 for 6 days, 06:00:00 for 6 hours, 00:06:00 for 6 minutes, 00:00:06 for 6 seconds.")]
    [InlineData("ApprovalBot:Reconciliation:EventWindow=7", "ApprovalBot:Reconciliation:EventWindow: '7' is a number without a unit; write the duration as [d.]hh:mm:ss: 7.00:00:00 for 7 days, 07:00:00 for 7 hours, 00:07:00 for 7 minutes, 00:00:07 for 7 seconds.")]
    [InlineData("ApprovalBot:Pipe:LineTimeout=45", "ApprovalBot:Pipe:LineTimeout: '45' is a number without a unit; write the duration as [d.]hh:mm:ss: 45.00:00:00 for 45 days, 00:45:00 for 45 minutes, 00:00:45 for 45 seconds.")]
    [InlineData("ApprovalBot:Kinds:reply:StaleAfter=100000", "ApprovalBot:Kinds:reply:StaleAfter: '100000' is a number without a unit; write the duration as [d.]hh:mm:ss: 100000.00:00:00 for 100000 days.")]
    public void Find_DurationAsABareNumber_RefusedShowingEachReading(string setting, string expected)
    {
        // .NET reads "30" as 30 days: meant as minutes, a draft went stale a month later without a word.
        Assert.Equal([expected], Find(setting));
    }

    /// <summary>
    /// .NET reads an hours part of 24 or more as days (24:00:00 is 24 days, 48:00:00 48 days): every duration key refuses
    /// it, with how to write what was meant.
    /// </summary>
    [Theory]
    [InlineData("ApprovalBot:Kinds:reply:StaleAfter=24:00:00", "ApprovalBot:Kinds:reply:StaleAfter: '24:00:00' has 24 hours, which .NET reads as days (24:00:00 is 24 days) or not at all; write 1.00:00:00 for 24 hours (days go before a dot: [d.]hh:mm:ss, hours 0-23).")]
    [InlineData("ApprovalBot:Kinds:reply:ExpireAfter=48:00:00", "ApprovalBot:Kinds:reply:ExpireAfter: '48:00:00' has 48 hours, which .NET reads as days (24:00:00 is 24 days) or not at all; write 2.00:00:00 for 48 hours (days go before a dot: [d.]hh:mm:ss, hours 0-23).")]
    [InlineData("ApprovalBot:Kinds:reply:StuckAfter=36:30:00", "ApprovalBot:Kinds:reply:StuckAfter: '36:30:00' has 36 hours, which .NET reads as days (24:00:00 is 24 days) or not at all; write 1.12:30:00 for 36 hours (days go before a dot: [d.]hh:mm:ss, hours 0-23).")]
    [InlineData("ApprovalBot:Reconciliation:RemindEvery=24:00:00", "ApprovalBot:Reconciliation:RemindEvery: '24:00:00' has 24 hours")]
    [InlineData("ApprovalBot:Reconciliation:EventWindow= 168:00:00 ", "ApprovalBot:Reconciliation:EventWindow: ' 168:00:00 ' has 168 hours, which .NET reads as days (24:00:00 is 24 days) or not at all; write 7.00:00:00")]
    [InlineData("ApprovalBot:Pipe:LineTimeout=24:00", "ApprovalBot:Pipe:LineTimeout: '24:00' has 24 hours")]
    public void Find_DurationWithAnHoursPartOf24OrMore_RefusedNamingTheKeyAndTheDaysForm(string setting, string expected)
    {
        var error = Assert.Single(Find(setting));

        Assert.StartsWith(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Find_DurationsWithTheirUnitsAndOtherNumbers_NoneReported()
    {
        Assert.Empty(Find(
            "ApprovalBot:Kinds:reply:StaleAfter=30.00:00:00", "ApprovalBot:Kinds:reply:StuckAfter=00:30:00", "ApprovalBot:Kinds:reply:ExpireAfter=",
            "ApprovalBot:Reconciliation:RemindEvery=1:00", "ApprovalBot:Kinds:reply:MaxLength=30", "ApprovalBot:Kinds:reply:Executor:TimeoutSeconds=30"));
    }

    [Fact]
    public void Find_SeveralUnknownKeys_EachReported()
    {
        Assert.Equal(2, Find("ApprovalBot:Pipe:Nmae=x", "ApprovalBot:Kinds:reply:StaleAftr=1.00:00:00").Count);
    }
}
