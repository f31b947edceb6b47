using ApprovalBot.Hosting;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace ApprovalBot.Tests.Hosting;

public sealed class UnknownSettingsTests
{
    /// <summary>The settings given on the command line alone (<c>--key=value</c> each).</summary>
    private static IReadOnlyList<string> Find(params string[] settings) =>
        UnknownSettings.Find(new ConfigurationBuilder().AddCommandLine([.. settings.Select(s => "--" + s)]).Build());

    private static readonly string ShippedFile = Path.Combine(AppContext.BaseDirectory, "config", "appsettings.json");

    /// <summary>
    /// The shipped config/appsettings.json with <paramref name="replace"/> in it replaced by <paramref name="with"/>, under
    /// the command line <paramref name="args"/>: the service's sources in its order, the file first. Every message with
    /// "{file}" in it said of that file's path.
    /// </summary>
    private static IReadOnlyList<string> FindOverFile(string replace, string with, params string[] args)
    {
        using var dir = new TempDirectory();
        var file = Path.Combine(dir.Path, "appsettings.json");
        var shipped = File.ReadAllText(ShippedFile);
        Assert.Contains(replace, shipped, StringComparison.Ordinal);
        File.WriteAllText(file, shipped.Replace(replace, with, StringComparison.Ordinal));
        var errors = UnknownSettings.Find(new ConfigurationBuilder().AddJsonFile(file).AddCommandLine(args).Build());
        return [.. errors.Select(e => e.Replace(file, "{file}", StringComparison.Ordinal))];
    }

    /// <summary>A JSON file of <paramref name="json"/> alone, under the command line <paramref name="args"/>; "{file}" in each message for its path.</summary>
    private static IReadOnlyList<string> FindInFile(string json, params string[] args)
    {
        using var dir = new TempDirectory();
        var file = Path.Combine(dir.Path, "appsettings.json");
        File.WriteAllText(file, json);
        var errors = UnknownSettings.Find(new ConfigurationBuilder().AddJsonFile(file).AddCommandLine(args).Build());
        return [.. errors.Select(e => e.Replace(file, "{file}", StringComparison.Ordinal))];
    }

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
    [InlineData("ApprovalBot:Kinds:thread=500", "ApprovalBot:Kinds:thread is a kind: give its settings below it (e.g. ApprovalBot:Kinds:thread:MaxLength=500), not a value ('500' on the command line).")]
    [InlineData("ApprovalBot:Pipe=x", "ApprovalBot:Pipe is a group of settings (such as ApprovalBot:Pipe:…), not a value ('x' on the command line).")]
    [InlineData("ApprovalBot=5", "ApprovalBot is the section of the service's settings (such as ApprovalBot:DataDirectory=…), not a value ('5' on the command line).")]
    [InlineData("ApprovalBot:Telegram:RateLimits=5", "ApprovalBot:Telegram:RateLimits is a group of settings (PerChatPerSecond, PerChatBurst, PerGroupPerMinute, GlobalPerSecond), not a value ('5' on the command line).")]
    [InlineData("ApprovalBot:Telegram:Approvers=777", "ApprovalBot:Telegram:Approvers is a list, given as one value ('777' on the command line): give each item a key of its own, ApprovalBot:Telegram:Approvers:0=777, ApprovalBot:Telegram:Approvers:1=… (in the environment ApprovalBot__Telegram__Approvers__0=…).")]
    [InlineData("ApprovalBot:Telegram:Approvers:0=l001", "ApprovalBot:Telegram:Approvers:0: 'l001' is not a whole number (Approvers is a list of whole numbers).")]
    [InlineData("ApprovalBot:Kinds:post:Executor:Command=/bin/echo  hi there", "ApprovalBot:Kinds:post:Executor:Command is a list, given as one value ('/bin/echo  hi there' on the command line): give each item a key of its own, ApprovalBot:Kinds:post:Executor:Command:0=/bin/echo, ApprovalBot:Kinds:post:Executor:Command:1=hi, ApprovalBot:Kinds:post:Executor:Command:2=there (in the environment ApprovalBot__Kinds__post__Executor__Command__0=…).")]
    [InlineData("ApprovalBot:Kinds:post:Executor:Command=/bin/true", "ApprovalBot:Kinds:post:Executor:Command is a list, given as one value ('/bin/true' on the command line): give each item a key of its own, ApprovalBot:Kinds:post:Executor:Command:0=/bin/true, ApprovalBot:Kinds:post:Executor:Command:1=… (in the environment ApprovalBot__Kinds__post__Executor__Command__0=…).")]
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

    /// <summary>
    /// A value given over a group the shipped file fills: the merged configuration showed the file's settings there, and
    /// the value was passed over without a word (the start went on with the file's settings). Read through the service's
    /// own sources, the shipped file first.
    /// </summary>
    [Theory]
    [InlineData("--ApprovalBot:Pipe=x", "ApprovalBot:Pipe is a group of settings (such as ApprovalBot:Pipe:…), not a value ('x' on the command line).")]
    [InlineData("--ApprovalBot:Telegram=5", "ApprovalBot:Telegram is a group of settings (such as ApprovalBot:Telegram:…), not a value ('5' on the command line).")]
    [InlineData("--ApprovalBot:Kinds=5", "ApprovalBot:Kinds is a group of settings (such as ApprovalBot:Kinds:…), not a value ('5' on the command line).")]
    [InlineData("--ApprovalBot:Kinds:reply=5", "ApprovalBot:Kinds:reply is a kind: give its settings below it (e.g. ApprovalBot:Kinds:reply:MaxLength=5), not a value ('5' on the command line).")]
    [InlineData("--ApprovalBot:Kinds:post=", "ApprovalBot:Kinds:post is a kind: give its settings below it (e.g. ApprovalBot:Kinds:post:MaxLength=…), not a value ('' on the command line).")]
    [InlineData("--ApprovalBot:Telegram:RateLimits=5", "ApprovalBot:Telegram:RateLimits is a group of settings (PerChatPerSecond, PerChatBurst, PerGroupPerMinute, GlobalPerSecond), not a value ('5' on the command line).")]
    [InlineData("--ApprovalBot=5", "ApprovalBot is the section of the service's settings (such as ApprovalBot:DataDirectory=…), not a value ('5' on the command line).")]
    public void Find_ValueOverAGroupOfTheShippedFile_RefusedNamingTheKeyAndWhereEach(string argument, string expected)
    {
        var builder = ApprovalBotHost.CreateBuilder([argument]);

        var error = Assert.Single(UnknownSettings.Find(builder.Configuration));

        Assert.Equal($"{expected} The settings below it in {ShippedFile} stay in force: a value neither replaces nor removes them.", error);
    }

    /// <summary>
    /// Lists over a file that gives items: a value was passed over, the file's items kept; items by index replaced the
    /// file's one by one, so a list could not be shortened (an approver meant to be gone stayed); the binder took any key
    /// below a list as an item, and a JSON null for a number bound as 0 ("got 0" of a value nobody gave).
    /// </summary>
    [Theory]
    [InlineData("\"Approvers\": []", "\"Approvers\": [1001]", "--ApprovalBot:Telegram:Approvers=777", "ApprovalBot:Telegram:Approvers is a list, given as one value ('777' on the command line): give each item a key of its own, ApprovalBot:Telegram:Approvers:0=777, ApprovalBot:Telegram:Approvers:1=… (in the environment ApprovalBot__Telegram__Approvers__0=…). The items in {file} stay in force: a value neither replaces nor removes them.")]
    [InlineData("\"Approvers\": []", "\"Approvers\": [1001]", "--ApprovalBot:Telegram:Approvers=", "ApprovalBot:Telegram:Approvers: an empty value on the command line does not empty the list: the items in {file} stay in force (a list is replaced item by item, never emptied or shortened). Remove them there, or give the items meant in their place (ApprovalBot:Telegram:Approvers:0=…).")]
    [InlineData("\"Approvers\": []", "\"Approvers\": [1001, 555]", "--ApprovalBot:Telegram:Approvers:0=777", "ApprovalBot:Telegram:Approvers: the items on the command line (ApprovalBot:Telegram:Approvers:0=777) replace only some of the list's items; ApprovalBot:Telegram:Approvers:1=555 in {file} would stay in the list, as a list is replaced item by item, never shortened. Give the whole list in one place: remove it where the other items are, or change it there.")]
    [InlineData("\"Approvers\": []", "\"Approvers\": {\"a\": 1001}", "", "ApprovalBot:Telegram:Approvers:a in {file} is not an item of a list: Approvers is a list of whole numbers, its items numbered from 0 (ApprovalBot:Telegram:Approvers:0=…, ApprovalBot:Telegram:Approvers:1=…; in a JSON file [ …, … ], not { … }).")]
    [InlineData("\"Kinds\": {", "\"Kinds\": { \"x\": { \"Executor\": { \"Type\": \"command\", \"Command\": [\"/bin/post\", \"--live\"] } },", "--ApprovalBot:Kinds:x:Executor:Command:0=/bin/other", "ApprovalBot:Kinds:x:Executor:Command: the items on the command line (ApprovalBot:Kinds:x:Executor:Command:0=/bin/other) replace only some of the list's items; ApprovalBot:Kinds:x:Executor:Command:1=--live in {file} would stay in the list, as a list is replaced item by item, never shortened. Give the whole list in one place: remove it where the other items are, or change it there.")]
    [InlineData("\"MaxLength\": 280", "\"MaxLength\": null", "", "ApprovalBot:Kinds:reply:MaxLength has no value (null in {file}): give it one, or leave the key out for its default.")]
    [InlineData("\"IntervalSeconds\": 30", "\"IntervalSeconds\": null", "", "ApprovalBot:Execution:IntervalSeconds has no value (null in {file}): give it one, or leave the key out for its default.")]
    public void Find_ListOrValueLayeredOverTheFile_RefusedNamingTheKeyAndWhereEachPartCameFrom(string replace, string with, string argument, string expected)
    {
        Assert.Equal([expected], FindOverFile(replace, with, argument.Length == 0 ? [] : [argument]));
    }

    /// <summary>
    /// A JSON null for a group of settings, a kind, the whole section or a text: the binder passed over each, and the
    /// defaults (or another source's settings) stayed in force without a word. A value for the whole section is refused
    /// like one for any group.
    /// </summary>
    [Theory]
    [InlineData("""{"ApprovalBot": {"Telegram": null}}""", "ApprovalBot:Telegram has no value (null in {file}): give the settings below it, or leave the key out for their defaults.")]
    [InlineData("""{"ApprovalBot": {"telegram": {"RateLimits": null}}}""", "ApprovalBot:telegram:RateLimits has no value (null in {file}): give the settings below it, or leave the key out for their defaults.")]
    [InlineData("""{"ApprovalBot": {"Kinds": {"reply": null}}}""", "ApprovalBot:Kinds:reply has no value (null in {file}): give the settings below it, or leave the key out for their defaults.")]
    [InlineData("""{"ApprovalBot": {"Kinds": {"post": {"Executor": null}}}}""", "ApprovalBot:Kinds:post:Executor has no value (null in {file}): give the settings below it, or leave the key out for their defaults.")]
    [InlineData("""{"ApprovalBot": null}""", "ApprovalBot has no value (null in {file}): give the settings below it, or leave the key out for their defaults.")]
    [InlineData("""{"ApprovalBot": {"Pipe": {"Name": null}}}""", "ApprovalBot:Pipe:Name has no value (null in {file}): give it one, or leave the key out for its default.")]
    [InlineData("""{"ApprovalBot": {"DataDirectory": null}}""", "ApprovalBot:DataDirectory has no value (null in {file}): give it one, or leave the key out for its default.")]
    [InlineData("""{"ApprovalBot": {"Telegram": {"Token": null}}}""", "ApprovalBot:Telegram:Token has no value (null in {file}): give it one, or leave the key out for its default.")]
    [InlineData("""{"ApprovalBot": 5}""", "ApprovalBot is the section of the service's settings (such as ApprovalBot:DataDirectory=…), not a value ('5' in {file}).")]
    public void Find_NullForAGroupOrATextOrAValueForTheSection_RefusedNamingTheKeyAndTheFile(string json, string expected)
    {
        Assert.Equal([expected], FindInFile(json));
    }

    /// <summary>An empty group is as good as one left out, and a null given a value or settings by a later source is that value.</summary>
    [Theory]
    [InlineData("""{"ApprovalBot": {"Telegram": {}, "Pipe": {}, "Kinds": {"reply": {}}, "Sandbox": {}}}""")]
    [InlineData("""{"ApprovalBot": {}}""")]
    [InlineData("""{"ApprovalBot": {"Telegram": {"Approvers": []}}}""")]
    [InlineData("""{"ApprovalBot": {"Telegram": null}}""", "--ApprovalBot:Telegram:ChatId=5")]
    [InlineData("""{"ApprovalBot": {"Pipe": {"Name": null}}}""", "--ApprovalBot:Pipe:Name=x")]
    public void Find_EmptyGroupOrNullGivenLater_NoneReported(string json, params string[] args)
    {
        Assert.Empty(FindInFile(json, args));
    }

    /// <summary>A whole list given over the file's, items added after the file's, and a value given over a JSON null are what they look like.</summary>
    [Theory]
    [InlineData("\"Approvers\": []", "\"Approvers\": [1001, 555]", "--ApprovalBot:Telegram:Approvers:0=777 --ApprovalBot:Telegram:Approvers:1=888")]
    [InlineData("\"Approvers\": []", "\"Approvers\": [1001, 555]", "--ApprovalBot:Telegram:Approvers:0=777 --ApprovalBot:Telegram:Approvers:1=888 --ApprovalBot:Telegram:Approvers:2=999")]
    [InlineData("\"Approvers\": []", "\"Approvers\": [1001]", "--ApprovalBot:Telegram:Approvers:1=777")]
    [InlineData("\"Approvers\": []", "\"Approvers\": []", "--ApprovalBot:Telegram:Approvers=")]
    [InlineData("\"ChatId\": 0", "\"ChatId\": null", "--ApprovalBot:Telegram:ChatId=5")]
    public void Find_ListOrValueLayeredOverTheFileAsItLooks_NoneReported(string replace, string with, string arguments)
    {
        Assert.Empty(FindOverFile(replace, with, arguments.Split(' ')));
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
