using System.Net.Sockets;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Cli;

/// <summary>
/// approvalctl when no service answers at the --pipe path, whatever stands there: exit 5 by either path, one error
/// line, and nothing on stdout even with --json (there is no response line to echo). With no socket file at all that is
/// said at once; anything else there waits out the 2 s connect timeout (a class of its own, so these run beside the other
/// CLI tests rather than after them).
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class CliUnavailableTests
{
    [Theory]
    [InlineData("missing")]
    [InlineData("regular file")]
    [InlineData("directory")]
    [InlineData("stale socket")]
    public async Task Run_NoServiceAtThePath_ExitsUnavailableWithNothingOnStdout(string what)
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("approvalbot.sock");
        switch (what)
        {
            case "regular file":
                await File.WriteAllTextAsync(path, "not a socket");
                break;
            case "directory":
                Directory.CreateDirectory(path);
                break;
            case "stale socket":
                // A socket file nothing is bound to, as a service killed with SIGKILL leaves it. Moved away from where
                // it was bound, since closing the socket removes the file at that path.
                using (var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
                {
                    socket.Bind(new UnixDomainSocketEndPoint(dir.Combine("bound.sock")));
                    File.Move(dir.Combine("bound.sock"), path);
                }
                break;
        }
        Assert.Equal(what != "missing", Path.Exists(path));

        var runs = await Task.WhenAll(
            CliRunner.RunAsync("submit", "--pipe", path, "--id", "x", "--kind", "reply", "--agent", "a", "--text", "t", "--json"),
            CliRunner.RunAsync("submit", "--pipe", path, "--id=x", "--kind", "reply", "--agent", "a", "--text", "t", "--json"),
            CliRunner.RunAsync("get", "x", "--pipe", path, "--json"),
            CliRunner.RunAsync("ping", "--pipe", path));

        foreach (var run in runs)
        {
            Assert.True(run.ExitCode == 5, run.ToString());
            var error = Assert.Single(run.Stderr.TrimEnd().Split('\n'));
            Assert.StartsWith("error unavailable: ", error);
            if (what != "missing")
            {
                // What is wrong there, and what to do about it.
                Assert.Equal($"error unavailable: no service answered on '{path}' within 2 s: '{path}' is there but nothing accepts connections on it " +
                    "(the socket file of a service that was killed, or not a socket at all). Start the service, or point --pipe or APPROVALBOT_PIPE at the Pipe:Name it serves", error);
            }
            Assert.Empty(run.Stdout);
        }
    }

    [Theory]
    [InlineData(RefusedSocketPath.UnderAFile)]
    [InlineData(RefusedSocketPath.LinkLoop)]
    [InlineData(RefusedSocketPath.TooLong)]
    public async Task Run_PathTheOsRefusesAConnectTo_ExitsUnavailableNamingThePathAndWhyByEitherPath(string what)
    {
        using var dir = new TempDirectory();
        var (path, why) = await RefusedSocketPath.MakeAsync(dir, what);

        var runs = await Task.WhenAll(
            CliRunner.RunAsync("submit", "--pipe", path, "--id", "x", "--kind", "reply", "--agent", "a", "--text", "t"),
            CliRunner.RunAsync("submit", "--pipe", path, "--id=x", "--kind", "reply", "--agent", "a", "--text", "t", "--json"),
            CliRunner.RunAsync("ping", "--pipe", path));

        foreach (var run in runs)
        {
            // Not "the service is not running" (a missing socket), not an internal error, not .NET's "Unknown socket error".
            Assert.True(run.ExitCode == 5, run.ToString());
            Assert.Equal($"error unavailable: cannot connect to '{path}': {why}; point --pipe or APPROVALBOT_PIPE at the Pipe:Name the service serves",
                run.Stderr.TrimEnd());
            Assert.Empty(run.Stdout);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Run_NoSocketFile_ExitsUnavailableAtOnceSayingTheServiceIsNotRunningThere(bool plainName)
    {
        using var dir = new TempDirectory();
        var name = "ab-none-" + Guid.NewGuid().ToString("N")[..8];
        var path = plainName ? Path.Combine(Path.GetTempPath(), "CoreFxPipe_" + name) : dir.Combine("approvalbot.sock");
        var pipe = plainName ? name : path;
        var expected = plainName
            ? $"error unavailable: the service is not running on pipe '{name}': no socket file at '{path}'. Start it, or point --pipe or APPROVALBOT_PIPE at the Pipe:Name it serves"
            : $"error unavailable: the service is not running at '{path}': no socket file there. Start it, or point --pipe or APPROVALBOT_PIPE at the Pipe:Name it serves";

        var runs = await Task.WhenAll(
            CliRunner.RunAsync("submit", "--pipe", pipe, "--id", "x", "--kind", "reply", "--agent", "a", "--text", "t"),
            CliRunner.RunAsync("submit", "--pipe", pipe, "--id=x", "--kind", "reply", "--agent", "a", "--text", "t"),
            CliRunner.RunAsync("get", "x", "--pipe", pipe, "--json"),
            CliRunner.RunAsync("ping", "--pipe", pipe));

        foreach (var run in runs)
        {
            Assert.True(run.ExitCode == 5, run.ToString());
            Assert.Equal(expected, run.Stderr.TrimEnd());
            Assert.Empty(run.Stdout);
        }
    }
}
