using System.Diagnostics;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Security;

/// <summary>
/// The agent pipe admits only the service's own OS user: the socket file is owner-only, and even if its mode
/// is opened up, the peer's user is checked on accept. Tested by really connecting as another user (nobody).
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class PipeOsUserTests
{
    private const string Connect = """
        import socket, sys
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(sys.argv[1])
            s.sendall(b'{"op":"ping"}\n')
            s.settimeout(10)
            data = s.recv(4096)
            print("ANSWER" if data else "CLOSED")
        except PermissionError:
            print("DENIED")
        except (ConnectionResetError, BrokenPipeError):
            print("CLOSED")
        """;

    private static async Task<string> ConnectAsNobodyAsync(string socketPath)
    {
        var info = new ProcessStartInfo("runuser") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in (string[])["-u", "nobody", "--", "python3", "-c", Connect, socketPath]) info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, error);
        return output.Trim();
    }

    private static void OpenUp(string path) =>
        File.SetUnixFileMode(path, (UnixFileMode)0b111_111_111);

    [Fact]
    public async Task Connect_AsAnotherOsUser_DeniedBySocketMode()
    {
        Assert.True(Environment.UserName == "root", "needs root to run a client as another user (CI runs as root)");
        using var dir = new TempDirectory();
        OpenUp(dir.Path);
        await using var host = await HostProcess.StartAsync(dir.Path);

        var outcome = await ConnectAsNobodyAsync(host.PipeName);

        Assert.Equal("DENIED", outcome);
        await using var own = await host.ConnectAsync();
        Assert.True((await own.PingAsync()).Ok);
    }

    [Fact]
    public async Task Connect_AsAnotherOsUserWithSocketModeOpened_RefusedOnAcceptLoggedAndStillServing()
    {
        Assert.True(Environment.UserName == "root", "needs root to run a client as another user (CI runs as root)");
        using var dir = new TempDirectory();
        OpenUp(dir.Path);
        await using var host = await HostProcess.StartAsync(dir.Path);
        OpenUp(host.PipeName);

        var outcome = await ConnectAsNobodyAsync(host.PipeName);
        await using var own = await host.ConnectAsync();
        var ping = await own.PingAsync();

        Assert.Equal("CLOSED", outcome);
        Assert.True(ping.Ok);
        Assert.Contains("Security: refused a pipe connection from another OS user", host.Output, StringComparison.Ordinal);
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunCliAsNobodyAsync(params string[] args)
    {
        var info = new ProcessStartInfo("runuser") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in (string[])["-u", "nobody", "--", "dotnet", Path.Combine(AppContext.BaseDirectory, "approvalctl.dll"), .. args]) info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(limit.Token);
        return (process.ExitCode, await output, await error);
    }

    [Theory]
    [InlineData(true, "ping")]
    [InlineData(true, "submit")]
    [InlineData(false, "ping")]
    [InlineData(false, "submit")]
    public async Task Cli_AsAnotherOsUserWithTheServiceRunning_PermissionDeniedNotThatNoServiceRuns(bool folderClosed, string command)
    {
        Assert.True(Environment.UserName == "root", "needs root to run a client as another user (CI runs as root)");
        using var dir = new TempDirectory();
        // Closed: the socket cannot even be looked at (stat fails with EACCES, which a plain "is it there" takes for no).
        // Open: it can, but its mode (0600) refuses the connect.
        File.SetUnixFileMode(dir.Path, folderClosed ? UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute : (UnixFileMode)0b111_111_111);
        await using var host = await TestHost.StartAsync(dataDirectory: dir.Path);
        string[] args = command == "submit"
            ? ["submit", "--pipe", host.PipeName, "--id", "reply:other-user", "--kind", "reply", "--agent", "a", "--text", "t"]
            : ["ping", "--pipe", host.PipeName];

        var (exitCode, stdout, stderr) = await RunCliAsNobodyAsync(args);

        Assert.True(exitCode == 5, $"exit {exitCode}: {stderr}");
        Assert.Empty(stdout);
        Assert.Equal($"error unavailable: cannot connect to '{host.PipeName}': permission denied: the socket, or a folder on its path, " +
            "is not open to this OS user (the service runs as another user?)", stderr.TrimEnd());
        Assert.Null(host.Store.Get("reply:other-user"));
    }
}
