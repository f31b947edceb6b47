using System.Diagnostics;

namespace ApprovalBot.Tests.Sandbox;

/// <summary>The standalone sandbox's command line (<c>dotnet ApprovalBot.Sandbox.dll …</c>), run as a child process.</summary>
public sealed class SandboxProgramTests
{
    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "ApprovalBot.Sandbox.dll"));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        }
        catch (TimeoutException)
        {
            // A sandbox that started when it should have refused: not left listening after the test.
            process.Kill(entireProcessTree: true);
            throw;
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    public async Task Help_PrintsTheUsageAndExitsZero(string help)
    {
        var (exitCode, stdout, stderr) = await RunAsync(help);

        Assert.Equal(0, exitCode);
        Assert.StartsWith("usage: ApprovalBot.Sandbox [--url URL]", stdout, StringComparison.Ordinal);
        Assert.Empty(stderr);
    }

    [Theory]
    [InlineData("--bogus", "unknown option --bogus")]
    [InlineData("--token", "--token needs a value")]
    [InlineData("--approver-id=12", "unknown option --approver-id=12")]
    [InlineData("--approver-id|twelve", "--approver-id needs a number, got \"twelve\"")]
    [InlineData("--url|http://0.0.0.0:5780", "--url http://0.0.0.0:5780 is not a loopback address; add --allow-remote to listen there anyway.")]
    [InlineData("--token|bad token", "--token must look like a bot token, \"<digits>:<letters, digits, - or _>\" such as 123456:SANDBOX-token; got \"bad token\"")]
    [InlineData("--token|", "--token must look like a bot token, \"<digits>:<letters, digits, - or _>\" such as 123456:SANDBOX-token; got \"\"")]
    [InlineData("--url|http://127.0.0.1:57997/path", "--url http://127.0.0.1:57997/path has a path: give http://<address>:<port> and nothing more, such as http://127.0.0.1:5780")]
    [InlineData("--url|http://127.0.0.1", "--url http://127.0.0.1 has no port: give http://<address>:<port> and nothing more, such as http://127.0.0.1:5780")]
    [InlineData("--url|notaurl", "--url notaurl is not an http URL: give http://<address>:<port>, such as http://127.0.0.1:5780")]
    [InlineData("--approver-id|-5", "--approver-id must be a user id, a positive number; got -5")]
    [InlineData("--stranger-id|0", "--stranger-id must be a user id, a positive number; got 0")]
    [InlineData("--group-chat-id|5", "--group-chat-id must be a group chat id, a negative number (Telegram's group ids are); got 5")]
    [InlineData("--approver-name|", "--approver-name must not be empty")]
    [InlineData("--approver-name| ", "--approver-name must not be empty")]
    [InlineData("--approver-id|777|--stranger-id|777", "--stranger-id must differ from --approver-id (both 777): the stranger is the user who is not an approver")]
    public async Task BadArguments_ExitTwoNamingTheMistakeThenTheUsage(string args, string expected)
    {
        var (exitCode, stdout, stderr) = await RunAsync(args.Split('|'));

        Assert.Equal(2, exitCode);
        Assert.StartsWith(expected + Environment.NewLine + "usage: ApprovalBot.Sandbox", stderr, StringComparison.Ordinal);
        Assert.Empty(stdout);
    }

    [Fact]
    public async Task PortInUse_ExitsNonZeroWithAClearMessageAndNoStackTrace()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;

        var (exitCode, _, stderr) = await RunAsync("--url", $"http://127.0.0.1:{port}");

        Assert.Equal(1, exitCode);
        Assert.StartsWith($"The Telegram sandbox cannot listen on http://127.0.0.1:{port}: ", stderr, StringComparison.Ordinal);
        Assert.Contains("is another sandbox running?", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }
}
