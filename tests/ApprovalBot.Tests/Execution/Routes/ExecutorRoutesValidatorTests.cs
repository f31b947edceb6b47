using ApprovalBot.Execution;
using ApprovalBot.Execution.Routes;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Tests.Execution.Routes;

public sealed class ExecutorRoutesValidatorTests
{
    public static TheoryData<string[], string> BadRoutes => new()
    {
        { ["Type=shell"], "ApprovalBot:Kinds:reply:Executor:Type must be command, webhook or pull (got 'shell')" },
        { [], "ApprovalBot:Kinds:reply:Executor:Type must be command, webhook or pull (got '')" },
        { ["Type=command"], "ApprovalBot:Kinds:reply:Executor:Command must name the program" },
        { ["Type=command", "Command:0= "], "ApprovalBot:Kinds:reply:Executor:Command must name the program" },
        { ["Type=command", "Command=/bin/post --now"], "ApprovalBot:Kinds:reply:Executor:Command must be an argv array" },
        { ["Type=webhook"], "ApprovalBot:Kinds:reply:Executor:Url must be an absolute http or https URL" },
        { ["Type=webhook", "Url=/relative"], "ApprovalBot:Kinds:reply:Executor:Url must be an absolute http or https URL" },
        { ["Type=webhook", "Url=ftp://sink.test/x"], "ApprovalBot:Kinds:reply:Executor:Url must be an absolute http or https URL" },
        { ["Type=pull", "MaxAttempts=0"], "ApprovalBot:Kinds:reply:Executor:MaxAttempts must be between 1 and 100 (got 0)" },
        { ["Type=webhook", "Url=https://sink.test/x", "TimeoutSeconds=0"], "ApprovalBot:Kinds:reply:Executor:TimeoutSeconds must be between 1 and 3600 (got 0)" },
        // A key of another route type was ignored: the route started as if it were not there.
        { ["Type=pull", "Url=http://sink.test/x"], "ApprovalBot:Kinds:reply:Executor:Url is a setting of a webhook route only, and this route's Type is pull: remove it, or set Type to webhook." },
        { ["Type=pull", "Command:0=/bin/post"], "ApprovalBot:Kinds:reply:Executor:Command is a setting of a command route only, and this route's Type is pull: remove it, or set Type to command." },
        { ["Type=pull", "TimeoutSeconds=30"], "ApprovalBot:Kinds:reply:Executor:TimeoutSeconds is a setting of command and webhook routes (a pull route's lease is the claim's lease_seconds) only, and this route's Type is pull: remove it." },
        { ["Type=pull", "TimeoutSeconds=0"], "ApprovalBot:Kinds:reply:Executor:TimeoutSeconds is a setting of command and webhook routes" },
        { ["Type=webhook", "Url=https://sink.test/x", "Command:0=/bin/post"], "ApprovalBot:Kinds:reply:Executor:Command is a setting of a command route only, and this route's Type is webhook: remove it, or set Type to command." },
        { ["Type=webhook", "Url=https://sink.test/x", "Command=/bin/post"], "ApprovalBot:Kinds:reply:Executor:Command is a setting of a command route only, and this route's Type is webhook" },
        { ["Type=command", "Command:0=/bin/post", "Url=https://sink.test/x"], "ApprovalBot:Kinds:reply:Executor:Url is a setting of a webhook route only, and this route's Type is command: remove it, or set Type to webhook." },
        { ["Type=command", "Command:0=/bin/post", "Url="], "ApprovalBot:Kinds:reply:Executor:Url is a setting of a webhook route only" },
        { ["Type=PULL", "url=http://sink.test/x"], "ApprovalBot:Kinds:reply:Executor:Url is a setting of a webhook route only, and this route's Type is pull" },
    };

    [Theory]
    [MemberData(nameof(BadRoutes))]
    public async Task Start_BadRoute_RefusedNamingTheKey(string[] route, string expected)
    {
        var settings = route.Length == 0
            ? ["ApprovalBot:Kinds:reply:Executor:Idempotent=true"]
            : route.Select(r => "ApprovalBot:Kinds:reply:Executor:" + r).ToArray();

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            TestHost.StartAsync(settings: settings, compose: b => b.AddApprovalJobs()));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_PullRouteWithTwoKeysOfOtherTypes_RefusedNamingEachAndNothingElse()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => TestHost.StartAsync(
            settings: ["ApprovalBot:Kinds:reply:Executor:Type=pull", "ApprovalBot:Kinds:reply:Executor:Url=http://sink.test/x",
                "ApprovalBot:Kinds:reply:Executor:TimeoutSeconds=0"],
            compose: b => b.AddApprovalJobs()));

        Assert.Equal(2, ex.Failures.Count());
        Assert.Contains("ApprovalBot:Kinds:reply:Executor:Url is a setting of a webhook route only", ex.Message, StringComparison.Ordinal);
        Assert.Contains("ApprovalBot:Kinds:reply:Executor:TimeoutSeconds is a setting of command and webhook routes", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>The keys each type takes, as the README's route table lists them, start.</summary>
    [Theory]
    [InlineData("Type=command", "Command:0=/usr/bin/true", "TimeoutSeconds=10", "MaxAttempts=2", "Idempotent=true")]
    [InlineData("Type=webhook", "Url=https://sink.test/hook", "TimeoutSeconds=10", "MaxAttempts=2", "Idempotent=true")]
    [InlineData("Type=pull", "MaxAttempts=2", "Idempotent=true")]
    public async Task Start_RouteWithEveryKeyItsTypeTakes_Starts(params string[] route)
    {
        await using var host = await TestHost.StartAsync(
            settings: route.Select(r => "ApprovalBot:Kinds:reply:Executor:" + r), compose: b => b.AddApprovalJobs());

        Assert.True(host.Services.GetRequiredService<IOptions<ExecutorRoutesOptions>>().Value.TryGet("reply", out _));
    }

    [Fact]
    public async Task RealHost_KeyOfAnotherRouteType_ExitsNonZeroNamingItAndCreatesNothing()
    {
        using var dir = new TempDirectory();

        var host = await HostProcess.RunToExitAsync(dir.Path, [
            "ApprovalBot:Kinds:x:Executor:Type=pull", "ApprovalBot:Kinds:x:Executor:Url=http://x"]);

        Assert.Equal(1, host.ExitCode);
        Assert.Contains("ApprovalBot:Kinds:x:Executor:Url is a setting of a webhook route only, and this route's Type is pull", host.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir.Path, "approvals.db")), "a refused start must not create the store");
    }

    [Fact]
    public async Task Start_BadExecutionSettings_RefusedNamingEachKey()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => TestHost.StartAsync(
            settings: ["ApprovalBot:Execution:IntervalSeconds=0", "ApprovalBot:Execution:MaxParallel=0"],
            compose: b => b.AddApprovalJobs()));

        Assert.Contains("ApprovalBot:Execution:IntervalSeconds", ex.Message, StringComparison.Ordinal);
        Assert.Contains("ApprovalBot:Execution:MaxParallel", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_GoodRoutes_Success()
    {
        var options = new ExecutorRoutesOptions();
        options.Routes["reply"] = new ExecutorRouteOptions { Type = "command", Command = ["/usr/bin/true"] };
        options.Routes["post"] = new ExecutorRouteOptions { Type = "webhook", Url = "https://sink.test/hook" };
        options.Routes["thread"] = new ExecutorRouteOptions { Type = "pull", MaxAttempts = 5, Idempotent = true };

        Assert.True(new ExecutorRoutesValidator().Validate(null, options).Succeeded);
    }
}
