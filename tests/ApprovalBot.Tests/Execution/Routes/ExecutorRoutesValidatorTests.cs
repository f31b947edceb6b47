using ApprovalBot.Execution;
using ApprovalBot.Execution.Routes;
using ApprovalBot.Tests.Infrastructure;
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
        { ["Type=pull", "TimeoutSeconds=0"], "ApprovalBot:Kinds:reply:Executor:TimeoutSeconds must be between 1 and 3600 (got 0)" },
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
