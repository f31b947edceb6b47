using ApprovalBot.Cli;

namespace ApprovalBot.Tests.Cli;

/// <summary>The wording of approvalctl's error lines: one line whatever they quote, and no runtime resource keys.</summary>
public sealed class ErrorTextTests
{
    [Theory]
    [InlineData("plain 'text' é 😀", "plain 'text' é 😀")]
    [InlineData("a\nb\r\nc\td", "a\\nb\\r\\nc\\td")]
    [InlineData("nul \0 esc \u001b del \u007f nel \u0085 ls \u2028 ps \u2029", "nul \\u0000 esc \\u001b del \\u007f nel \\u0085 ls \\u2028 ps \\u2029")]
    public void OneLine_EscapesWhatCouldBreakTheLine(string text, string expected) =>
        Assert.Equal(expected, ErrorText.OneLine(text));

    [Fact]
    public void Quote_LongValue_ShortenedKeepingItsEnds()
    {
        var quoted = ErrorText.Quote("start" + new string('x', 1000) + "end");

        Assert.StartsWith("'startxxx", quoted);
        Assert.EndsWith("xxxend (1008 characters)'", quoted);
        Assert.True(quoted.Length < 250, quoted);
    }

    [Fact]
    public void IoFailure_RefusedConnect_TheClientsReasonNotTheSocketErrorText()
    {
        // ENOTDIR's SocketException says only "Unknown socket error": a reconnect that failed so said that.
        var refused = new ApprovalBot.Client.PipeConnectException("/srv/app/p.sock", "not a directory: '/srv/app' on the path is a file, not a folder",
            new System.Net.Sockets.SocketException(-131074));

        Assert.Equal("not a directory: '/srv/app' on the path is a file, not a folder", ErrorText.IoFailure(refused));
    }

    [Fact]
    public void IoFailure_ExceptionTypesAndErrno_InWords()
    {
        using var dir = new ApprovalBot.Tests.Infrastructure.TempDirectory();
        var file = dir.Combine("f.txt");
        File.WriteAllText(file, "x");

        // Tests run as root here, where a mode of 000 does not deny a read: the exception is made by hand.
        Assert.Equal("permission denied", ErrorText.IoFailure(new UnauthorizedAccessException("UnauthorizedAccess_IODenied_Path"), file));
        Assert.Equal("is a directory", ErrorText.IoFailure(new UnauthorizedAccessException("UnauthorizedAccess_IODenied_Path"), dir.Path));
        Assert.Equal("no such file or directory", ErrorText.IoFailure(new FileNotFoundException("IO_FileNotFound_FileName")));
        Assert.Equal("no such file or directory", ErrorText.IoFailure(new DirectoryNotFoundException("IO_PathNotFound_Path")));
        Assert.Equal("the path is too long", ErrorText.IoFailure(new PathTooLongException("IO_PathTooLong_Path")));
        Assert.Equal("input/output error", ErrorText.IoFailure(new IOException("IO_FileTooLong2GB")));
        Assert.Equal("connection reset by peer", ErrorText.IoFailure(new IOException("net_io_readfailure", new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.ConnectionReset))));
    }
}
