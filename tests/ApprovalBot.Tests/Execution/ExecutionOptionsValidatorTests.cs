using ApprovalBot.Execution;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Execution;

public sealed class ExecutionOptionsValidatorTests
{
    private static IReadOnlyList<string> Errors(params string[] settings) =>
        BoundOptions.Errors(new ExecutionOptionsValidator(), ExecutionOptions.Section, settings);

    [Fact]
    public void Validate_Defaults_Pass() => Assert.Empty(Errors());

    /// <summary>Each value just outside the README's range: one message naming the key and the value.</summary>
    [Theory]
    [InlineData("IntervalSeconds=0", "ApprovalBot:Execution:IntervalSeconds must be between 1 and 86400 (got 0).")]
    [InlineData("IntervalSeconds=86401", "ApprovalBot:Execution:IntervalSeconds must be between 1 and 86400 (got 86401).")]
    [InlineData("RetryBaseSeconds=-1", "ApprovalBot:Execution:RetryBaseSeconds must be between 0 and 86400 (got -1).")]
    [InlineData("RetryMaxSeconds=9", "ApprovalBot:Execution:RetryMaxSeconds must be between RetryBaseSeconds (10) and 86400 (got 9).")]
    [InlineData("RetryMaxSeconds=86401", "ApprovalBot:Execution:RetryMaxSeconds must be between RetryBaseSeconds (10) and 86400 (got 86401).")]
    [InlineData("MaxParallel=0", "ApprovalBot:Execution:MaxParallel must be between 1 and 64 (got 0).")]
    [InlineData("MaxParallel=65", "ApprovalBot:Execution:MaxParallel must be between 1 and 64 (got 65).")]
    [InlineData("BatchSize=0", "ApprovalBot:Execution:BatchSize must be between 1 and 10000 (got 0).")]
    [InlineData("BatchSize=10001", "ApprovalBot:Execution:BatchSize must be between 1 and 10000 (got 10001).")]
    public void Validate_BadValue_OneErrorNamingTheKey(string setting, string expected) => Assert.Equal([expected], Errors(setting));

    /// <summary>A base over its own maximum is the base's fault, said once (not also as a cap below it).</summary>
    [Fact]
    public void Validate_RetryBaseOverItsMaximum_NamedOnce() =>
        Assert.Equal(["ApprovalBot:Execution:RetryBaseSeconds must be between 0 and 86400 (got 86401)."], Errors("RetryBaseSeconds=86401", "RetryMaxSeconds=86400"));

    [Theory]
    [InlineData("IntervalSeconds=1")]
    [InlineData("IntervalSeconds=86400")]
    [InlineData("RetryBaseSeconds=0")]
    [InlineData("RetryMaxSeconds=10")]
    [InlineData("RetryMaxSeconds=86400")]
    [InlineData("MaxParallel=1")]
    [InlineData("MaxParallel=64")]
    [InlineData("BatchSize=1")]
    [InlineData("BatchSize=10000")]
    public void Validate_RangeEnds_Pass(string setting) => Assert.Empty(Errors(setting));
}
