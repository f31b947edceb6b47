using ApprovalBot.Reconciliation;

namespace ApprovalBot.Tests.Reconciliation;

public sealed class ReconciliationOptionsValidatorTests
{
    private static readonly Dictionary<string, Action<ReconciliationOptions>> Spoilers = new()
    {
        ["zero interval"] = o => o.IntervalSeconds = 0,
        ["interval over a day"] = o => o.IntervalSeconds = 86_401,
        ["remind every second"] = o => o.RemindEvery = TimeSpan.FromSeconds(1),
        ["remind never"] = o => o.RemindEvery = TimeSpan.MaxValue,
        ["no gaps per message"] = o => o.MaxGapsPerMessage = 0,
        ["too many gaps per message"] = o => o.MaxGapsPerMessage = 51,
        ["zero window"] = o => o.EventWindow = TimeSpan.Zero,
        ["window for ever"] = o => o.EventWindow = TimeSpan.MaxValue,
    };

    [Theory]
    [InlineData("zero interval", "ApprovalBot:Reconciliation:IntervalSeconds")]
    [InlineData("interval over a day", "ApprovalBot:Reconciliation:IntervalSeconds")]
    [InlineData("remind every second", "ApprovalBot:Reconciliation:RemindEvery")]
    [InlineData("remind never", "ApprovalBot:Reconciliation:RemindEvery")]
    [InlineData("no gaps per message", "ApprovalBot:Reconciliation:MaxGapsPerMessage")]
    [InlineData("too many gaps per message", "ApprovalBot:Reconciliation:MaxGapsPerMessage")]
    [InlineData("zero window", "ApprovalBot:Reconciliation:EventWindow")]
    [InlineData("window for ever", "ApprovalBot:Reconciliation:EventWindow")]
    public void Validate_BadSetting_FailsNamingTheKey(string scenario, string key)
    {
        var options = new ReconciliationOptions();
        Spoilers[scenario](options);

        var result = new ReconciliationOptionsValidator().Validate(null, options);

        Assert.True(result.Failed, scenario);
        Assert.StartsWith(key, result.Failures!.Single(), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_Defaults_Accepted() =>
        Assert.True(new ReconciliationOptionsValidator().Validate(null, new ReconciliationOptions()).Succeeded);
}
