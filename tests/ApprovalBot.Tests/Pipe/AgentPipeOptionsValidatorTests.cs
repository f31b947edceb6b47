using ApprovalBot.Client;
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

    /// <summary>Each value just outside the README's range, and each name that is no pipe: one message naming the key and the value.</summary>
    [Theory]
    [InlineData("Name=", "ApprovalBot:Pipe:Name must be a pipe name or an absolute socket path (got '').")]
    [InlineData("Name=  ", "ApprovalBot:Pipe:Name must be a pipe name or an absolute socket path (got '  ').")]
    [InlineData("Name=a/b", "ApprovalBot:Pipe:Name 'a/b' must be a plain name or an absolute path, not a relative path.")]
    [InlineData("MaxLineBytes=1023", "ApprovalBot:Pipe:MaxLineBytes must be between 1024 and 67108864 (got 1023).")]
    [InlineData("MaxLineBytes=67108865", "ApprovalBot:Pipe:MaxLineBytes must be between 1024 and 67108864 (got 67108865).")]
    [InlineData("MaxContextBytes=1", "ApprovalBot:Pipe:MaxContextBytes must be between 2 and 1048576 (got 1).")]
    [InlineData("MaxContextBytes=1048577", "ApprovalBot:Pipe:MaxContextBytes must be between 2 and 1048576 (got 1048577).")]
    [InlineData("MaxConnections=0", "ApprovalBot:Pipe:MaxConnections must be between 1 and 10000 (got 0).")]
    [InlineData("MaxConnections=10001", "ApprovalBot:Pipe:MaxConnections must be between 1 and 10000 (got 10001).")]
    public void Validate_BadValue_OneErrorNamingTheKey(string setting, string expected) =>
        Assert.Equal([expected], ApprovalBot.Tests.Infrastructure.BoundOptions.Errors(new AgentPipeOptionsValidator(), AgentPipeOptions.Section, setting));

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

    /// <summary>
    /// The service refuses a Pipe:Name whose socket path a client could not connect to, at the same byte count (one
    /// limit, <see cref="SocketPaths.MaxBytes"/>): bytes of UTF-8, not characters.
    /// </summary>
    [Fact]
    public void Validate_SocketPathOneByteLongerThanAClientConnectsTo_RefusedNamingTheLimit()
    {
        var fits = "/" + new string('é', 53);
        var over = fits + "s";

        var error = Assert.Single(Errors(new AgentPipeOptions { Name = over }));

        Assert.Equal(107, System.Text.Encoding.UTF8.GetByteCount(fits));
        Assert.Empty(Errors(new AgentPipeOptions { Name = fits }));
        Assert.Null(SocketPaths.Unusable(fits));
        Assert.Equal($"ApprovalBot:Pipe:Name gives the socket path '{over}', longer than the 107 bytes a Unix socket allows.", error);
        Assert.NotNull(SocketPaths.Unusable(over));
    }
}
