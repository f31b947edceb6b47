using ApprovalBot.Pipe;

namespace ApprovalBot.Tests.Pipe;

public sealed class AgentPipeOptionsValidatorTests
{
    private static IEnumerable<string> Errors(AgentPipeOptions options) =>
        new AgentPipeOptionsValidator().Validate(null, options).Failures ?? [];

    [Fact]
    public void Validate_Defaults_Pass()
    {
        var options = new AgentPipeOptions();

        Assert.Empty(Errors(options));
        Assert.Equal(TimeSpan.FromSeconds(30), options.LineTimeout);
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("00:00:00.5")]
    [InlineData("-00:00:30")]
    [InlineData("01:00:01")]
    [InlineData("30.00:00:00")]
    public void Validate_LineTimeoutOutOfRange_NamedWithItsRangeAndHowItIsWritten(string value)
    {
        var error = Assert.Single(Errors(new AgentPipeOptions { LineTimeout = TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture) }));

        Assert.Equal($"ApprovalBot:Pipe:LineTimeout must be between 00:00:01 and 01:00:00, written [d.]hh:mm:ss (got {TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture)}).", error);
    }

    [Theory]
    [InlineData("00:00:01")]
    [InlineData("00:02:00")]
    [InlineData("01:00:00")]
    public void Validate_LineTimeoutInRange_Passes(string value)
    {
        Assert.Empty(Errors(new AgentPipeOptions { LineTimeout = TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture) }));
    }
}
