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
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
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
    public async Task BadArguments_ExitTwoNamingTheMistakeThenTheUsage(string args, string expected)
    {
        var (exitCode, stdout, stderr) = await RunAsync(args.Split('|'));

        Assert.Equal(2, exitCode);
        Assert.StartsWith(expected + Environment.NewLine + "usage: ApprovalBot.Sandbox", stderr, StringComparison.Ordinal);
        Assert.Empty(stdout);
    }
}
