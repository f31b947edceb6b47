using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Execution;
using ApprovalBot.Execution.Routes;
using ApprovalBot.Hosting;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Tests.Drafts;

public sealed class KindNamesTests
{
    [Fact]
    public void Spellings_LaterSourceSpellsAKindOtherwise_FirstSpellingWins()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["ApprovalBot:Kinds:reply:MaxLength"] = "280", ["ApprovalBot:Kinds:Post:MaxLength"] = "3000" })
            .AddInMemoryCollection(new Dictionary<string, string?> { ["ApprovalBot:Kinds:REPLY:MaxLength"] = "500", ["ApprovalBot:Kinds:thread:MaxLength"] = "90" })
            .Build();

        var spellings = KindNames.Spellings(configuration);

        Assert.Equal("reply", KindNames.Of(spellings, "REPLY"));
        Assert.Equal("reply", KindNames.Of(spellings, "reply"));
        Assert.Equal("Post", KindNames.Of(spellings, "post"));
        Assert.Equal("thread", KindNames.Of(spellings, "THREAD"));
    }

    [Theory]
    [InlineData("REPLY")]
    [InlineData("Reply")]
    public void Bind_OverrideSpelledInAnotherCase_SetsTheKindAndItsRouteUnderItsOwnName(string spelling)
    {
        using var dir = new TempDirectory();
        var builder = ApprovalBotHost.CreateBuilder([
            $"--ApprovalBot:DataDirectory={dir.Path}",
            $"--ApprovalBot:Kinds:{spelling}:MaxLength=5",
            $"--ApprovalBot:Kinds:{spelling}:Executor:Type=pull"]);
        builder.AddApprovalStore();
        builder.AddApprovalJobs();
        using var host = builder.Build();

        var kinds = host.Services.GetRequiredService<IOptions<KindsOptions>>().Value.Kinds;
        var routes = host.Services.GetRequiredService<IOptions<ExecutorRoutesOptions>>().Value;

        Assert.Equal(["post", "reply"], kinds.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(5, kinds["reply"].MaxLength);
        Assert.True(routes.TryGet("reply", out var route));
        Assert.Equal(RouteType.Pull, route.RouteType);
    }

    [Fact]
    public async Task Submit_KindOverriddenInCapitals_AgentsKeepSubmittingUnderItsName()
    {
        await using var host = await TestHost.StartAsync(["ApprovalBot:Kinds:REPLY:MaxLength=5"]);
        await using var client = await host.ConnectAsync();

        var fits = await client.SubmitAsync(new DraftSubmission { Id = "reply:case:1", Kind = "reply", Agent = "a", Text = "12345" });
        var tooLong = await client.SubmitAsync(new DraftSubmission { Id = "reply:case:2", Kind = "reply", Agent = "a", Text = "123456" });

        Assert.True(fits.Ok, fits.Error?.Message);
        Assert.Equal(ErrorCodes.Invalid, tooLong.Error?.Code);
        Assert.Contains("kind 'reply' allows at most 5", tooLong.Error!.Message, StringComparison.Ordinal);
    }
}
