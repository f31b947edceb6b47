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
        ["zero expire"] = o => o.ExpireAfter = TimeSpan.Zero,
        ["negative expire"] = o => o.ExpireAfter = TimeSpan.FromDays(-2),
        // "Never" is the setting left out; written as the largest TimeSpan, it would make the expiry's cutoff throw.
        ["expire never"] = o => o.ExpireAfter = TimeSpan.MaxValue,
        ["expire over ten years"] = o => o.ExpireAfter = TimeSpan.FromDays(3650) + TimeSpan.FromMilliseconds(1),
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
    [InlineData("zero expire", "ApprovalBot:Kinds:reply:ExpireAfter")]
    [InlineData("negative expire", "ApprovalBot:Kinds:reply:ExpireAfter")]
    [InlineData("expire never", "ApprovalBot:Kinds:reply:ExpireAfter")]
    [InlineData("expire over ten years", "ApprovalBot:Kinds:reply:ExpireAfter")]
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
        options.Kinds["reply"] = new KindOptions
        {
            MaxLength = 1_000_000, StaleAfter = TimeSpan.FromDays(3650), StuckAfter = TimeSpan.FromDays(3650), ExpireAfter = TimeSpan.FromDays(3650),
        };

        Assert.True(new KindsOptionsValidator().Validate(null, options).Succeeded);
    }

    [Fact]
    public void Validate_ExpireAfterLeftOutOrShortest_AcceptedAndLeftOutIsNever()
    {
        var options = new KindsOptions();
        options.Kinds["reply"] = new KindOptions();
        options.Kinds["post"] = new KindOptions { ExpireAfter = TimeSpan.FromMilliseconds(1) };

        Assert.True(new KindsOptionsValidator().Validate(null, options).Succeeded);
        Assert.Null(options.Kinds["reply"].ExpireAfter);
    }

    [Fact]
    public void Validate_BadExpireAfter_MessageSaysWhatItTakesAndWhatItGot()
    {
        var options = new KindsOptions();
        options.Kinds["reply"] = new KindOptions { ExpireAfter = TimeSpan.FromHours(-1) };

        var failure = Assert.Single(new KindsOptionsValidator().Validate(null, options).Failures!);

        Assert.Equal(
            "ApprovalBot:Kinds:reply:ExpireAfter must be a positive duration such as 2.00:00:00, at most 3650.00:00:00 (ten years), or left out for never (got -01:00:00).",
            failure);
    }
}
