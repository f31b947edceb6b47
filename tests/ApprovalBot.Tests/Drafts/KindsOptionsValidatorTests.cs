using ApprovalBot.Drafts;

namespace ApprovalBot.Tests.Drafts;

public sealed class KindsOptionsValidatorTests
{
    private static readonly Dictionary<string, Action<KindOptions>> Spoilers = new()
    {
        ["no length"] = o => o.MaxLength = 0,
        ["huge length"] = o => o.MaxLength = 1_000_001,
        ["zero stale"] = o => o.StaleAfter = TimeSpan.Zero,
        ["negative stale"] = o => o.StaleAfter = TimeSpan.FromHours(-1),
        // "Never" written the natural way: accepted before, it made every reconcile cycle and report throw.
        ["stale never"] = o => o.StaleAfter = TimeSpan.MaxValue,
        ["stale over ten years"] = o => o.StaleAfter = TimeSpan.FromDays(3651),
        ["zero stuck"] = o => o.StuckAfter = TimeSpan.Zero,
        ["stuck never"] = o => o.StuckAfter = TimeSpan.MaxValue,
    };

    [Theory]
    [InlineData("no length", "ApprovalBot:Kinds:reply:MaxLength")]
    [InlineData("huge length", "ApprovalBot:Kinds:reply:MaxLength")]
    [InlineData("zero stale", "ApprovalBot:Kinds:reply:StaleAfter")]
    [InlineData("negative stale", "ApprovalBot:Kinds:reply:StaleAfter")]
    [InlineData("stale never", "ApprovalBot:Kinds:reply:StaleAfter")]
    [InlineData("stale over ten years", "ApprovalBot:Kinds:reply:StaleAfter")]
    [InlineData("zero stuck", "ApprovalBot:Kinds:reply:StuckAfter")]
    [InlineData("stuck never", "ApprovalBot:Kinds:reply:StuckAfter")]
    public void Validate_BadSetting_FailsNamingTheKey(string scenario, string key)
    {
        var kind = new KindOptions();
        Spoilers[scenario](kind);
        var options = new KindsOptions();
        options.Kinds["reply"] = kind;

        var result = new KindsOptionsValidator().Validate(null, options);

        Assert.True(result.Failed, scenario);
        Assert.Single(result.Failures!);
        Assert.StartsWith(key, result.Failures!.Single(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("dot.ted")]
    public void Validate_BadKindName_FailsNamingIt(string name)
    {
        var options = new KindsOptions();
        options.Kinds[name] = new KindOptions();

        var result = new KindsOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains("a kind name must be 1-64 characters", result.Failures!.Single(), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_NoKind_FailsSayingOneIsNeeded()
    {
        var result = new KindsOptionsValidator().Validate(null, new KindsOptions());

        Assert.True(result.Failed);
        Assert.Contains("must define at least one kind", result.Failures!.Single(), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_LongestDurations_Accepted()
    {
        var options = new KindsOptions();
        options.Kinds["reply"] = new KindOptions { MaxLength = 1_000_000, StaleAfter = TimeSpan.FromDays(3650), StuckAfter = TimeSpan.FromDays(3650) };

        Assert.True(new KindsOptionsValidator().Validate(null, options).Succeeded);
    }
}
