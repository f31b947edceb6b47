using ApprovalBot.Drafts;
using ApprovalBot.Execution;
using ApprovalBot.Tests.Execution;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Security;

/// <summary>A command route gets argv from configuration and the draft on stdin: text full of shell syntax runs nothing.</summary>
public sealed class CommandRouteShellTests
{
    [Fact]
    public async Task Execute_TextFullOfShellMetacharacters_DeliveredVerbatimAndRunsNothing()
    {
        using var marker = new TempDirectory();
        var canary = marker.Combine("pwned");
        var text = $"$(touch {canary}) `touch {canary}`; touch {canary} && touch {canary} | touch {canary} > {canary} ' \" \\ $HOME *";
        using var route = new RouteScript();
        await using var host = await TestHost.StartAsync(
            [.. route.Settings("post"), "ApprovalBot:Execution:IntervalSeconds=3600"],
            compose: b => b.AddApprovalJobs());

        var next = host.Store.Signals.NextChange("post:shell");
        await DraftFixtures.ApproveAsync(host.Store, "post:shell", text, kind: "post");
        while (host.Store.Get("post:shell")!.State is not (DraftState.Executed or DraftState.Failed))
        {
            await next.WaitAsync(TimeSpan.FromSeconds(30));
            next.Dispose();
            next = host.Store.Signals.NextChange("post:shell");
        }
        next.Dispose();

        Assert.Equal(DraftState.Executed, host.Store.Get("post:shell")!.State);
        Assert.Equal(text, Assert.Single(route.Runs()).Text);
        Assert.False(File.Exists(canary));
    }
}
