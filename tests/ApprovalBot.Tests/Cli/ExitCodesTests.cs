using ApprovalBot.Cli;
using ApprovalBot.Client;

namespace ApprovalBot.Tests.Cli;

public sealed class ExitCodesTests
{
    [Theory]
    [InlineData(ErrorCodes.BadRequest, 2)]
    [InlineData(ErrorCodes.TooLarge, 2)]
    [InlineData(ErrorCodes.UnknownOp, 2)]
    [InlineData(ErrorCodes.Invalid, 2)]
    [InlineData(ErrorCodes.UnknownKind, 2)]
    [InlineData(ErrorCodes.Conflict, 3)]
    [InlineData(ErrorCodes.NotFound, 4)]
    [InlineData(ErrorCodes.Unavailable, 5)]
    [InlineData(ErrorCodes.LineTimeout, 5)]
    [InlineData(ErrorCodes.Internal, 1)]
    [InlineData("something_new", 1)]
    [InlineData(null, 1)]
    public void FromErrorCode_ProtocolCode_MapsToDocumentedExitCode(string? code, int expected)
    {
        Assert.Equal(expected, ExitCodes.FromErrorCode(code));
    }
}
