using System.Net.Sockets;
using System.Text;
using ApprovalBot.Client;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Cli;

/// <summary>
/// approvalctl as its own process (<c>dotnet approvalctl.dll</c>), for what only a process has: its environment
/// (<c>APPROVALBOT_PIPE</c>, <c>TMPDIR</c>) and the blocking submit path of a real run. Also a stand-in service
/// whose answer is written by hand, to show <c>--json</c> echoes the line as received.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class CliProcessTests
{
    private static Task<(string Stdout, string Stderr)> RunCliAsync(IDictionary<string, string> environment, params string[] args) =>
        ChildProcess.RunToEndAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "approvalctl.dll"), .. args], environment: environment);

    [Fact]
    public async Task Run_PipeOnlyInApprovalbotPipe_EveryCommandReachesTheService()
    {
        await using var host = await TestHost.StartAsync();
        var environment = new Dictionary<string, string> { ["APPROVALBOT_PIPE"] = host.PipeName };
        var id = $"cli:{Guid.NewGuid():N}";

        // submit takes the fast path (no System.CommandLine), get the full parser: both read the variable.
        var (submitted, _) = await RunCliAsync(environment, "submit", "--id", id, "--kind", "reply", "--agent", "env", "--text", "from the environment");
        var (got, _) = await RunCliAsync(environment, "get", id, "--json");

        Assert.StartsWith($"stored {id} seq ", submitted, StringComparison.Ordinal);
        Assert.Equal("from the environment", PipeClient.ParseResponse(got.Trim()).Draft!.Text);
        Assert.Equal("from the environment", host.Store.Get(id)!.Text);
    }

    [Fact]
    public async Task Run_PlainPipeNameWithTmpdir_HostAndCliMeetAtTheSameSocket()
    {
        // Short: the socket path must fit the 107-byte limit of a Unix socket address.
        using var tmp = new TempDirectory();
        using var data = new TempDirectory();
        var name = "ab-" + Guid.NewGuid().ToString("N")[..8];
        var environment = new Dictionary<string, string> { ["TMPDIR"] = tmp.Path, ["APPROVALBOT_PIPE"] = name };
        await using var host = await HostProcess.StartAsync(data.Path, [$"ApprovalBot:Pipe:Name={name}"], environment);

        var (pong, _) = await RunCliAsync(environment, "ping", "--json");

        Assert.True(PipeClient.ParseResponse(pong.Trim()).Ok);
        Assert.True(File.Exists(Path.Combine(tmp.Path, "CoreFxPipe_" + name)));
        Assert.Contains($"Agent pipe listening at {Path.Combine(tmp.Path, "CoreFxPipe_" + name)}", host.Output, StringComparison.Ordinal);
    }

    /// <summary>
    /// Runs approvalctl through /bin/sh so that an argument can be bytes that are not UTF-8 (a .NET ProcessStartInfo
    /// takes strings): <paramref name="script"/> sees the dll as $0, and its exit code and output are returned.
    /// </summary>
    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunCliInShellAsync(string script)
    {
        var info = new System.Diagnostics.ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "-c", script, Path.Combine(AppContext.BaseDirectory, "approvalctl.dll") })
        {
            info.ArgumentList.Add(arg);
        }
        using var process = System.Diagnostics.Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    [Theory]
    [InlineData("--id x")]
    [InlineData("--id=x")]
    public async Task Run_TextArgumentNotUtf8_RefusedByEitherPathWithoutConnecting(string id)
    {
        using var dir = new TempDirectory();
        var deadPipe = dir.Combine("none.sock");

        // \377 is the byte FF: the runtime would hand it over as U+FFFD and store "ab\uFFFDcd".
        var (exitCode, stdout, stderr) = await RunCliInShellAsync($"""exec dotnet "$0" submit --pipe '{deadPipe}' {id} --kind reply --agent a --text "$(printf 'ab\377cd')" """);

        Assert.True(exitCode == 2, $"exit {exitCode}: {stderr}");
        Assert.Equal("error usage (draft.text): --text is not valid UTF-8 (byte offset 2); the text must be UTF-8", stderr.TrimEnd());
        Assert.Empty(stdout);
    }

    /// <summary>submit takes the fast path, get the full parser: each refuses the variable's relative path before connecting.</summary>
    [Theory]
    [InlineData("submit --id x --kind reply --agent a --text t")]
    [InlineData("get x --json")]
    public async Task Run_RelativePathInApprovalbotPipe_ExitsBadInputNamingTheAbsolutePath(string command)
    {
        using var dir = new TempDirectory();

        var (exitCode, stdout, stderr) = await RunCliInShellAsync($"""cd '{dir.Path}' && APPROVALBOT_PIPE=./p.sock exec dotnet "$0" {command}""");

        Assert.True(exitCode == 2, $"exit {exitCode}: {stderr}");
        Assert.Equal($"error usage: APPROVALBOT_PIPE './p.sock' is a relative path: give a pipe name or an absolute socket path (here '{dir.Combine("p.sock")}')", stderr.TrimEnd());
        Assert.Empty(stdout);
    }

    /// <summary>
    /// An empty or blank APPROVALBOT_PIPE (a compose file's unset variable) is a usage error, as an empty --pipe is: it
    /// used to mean the default pipe, a service the caller did not name (or exit 5 with none running).
    /// </summary>
    [Theory]
    [InlineData("", "submit --id x --kind reply --agent a --text t")]
    [InlineData("", "ping")]
    [InlineData("'  '", "get x --json")]
    public async Task Run_EmptyApprovalbotPipe_ExitsBadInputNotTheDefaultPipe(string value, string command)
    {
        var (exitCode, stdout, stderr) = await RunCliInShellAsync($"""APPROVALBOT_PIPE={value} exec dotnet "$0" {command}""");

        Assert.True(exitCode == 2, $"exit {exitCode}: {stderr}");
        Assert.StartsWith("error usage: APPROVALBOT_PIPE is set but empty: give a pipe name or an absolute socket path, or unset it for 'approvalbot'", stderr);
        Assert.Empty(stdout);
    }

    [Fact]
    public async Task Run_ReplacementCharacterGivenAsUtf8_StoredAsGiven()
    {
        await using var host = await TestHost.StartAsync();
        var id = $"cli:{Guid.NewGuid():N}";

        // \357\277\275 is EF BF BD, U+FFFD given as such: valid UTF-8, stored as given.
        var (exitCode, stdout, stderr) = await RunCliInShellAsync($"""exec dotnet "$0" submit --pipe '{host.PipeName}' --id {id} --kind reply --agent a --text "$(printf 'ab\357\277\275cd')" """);

        Assert.True(exitCode == 0, $"exit {exitCode}: {stderr}");
        Assert.Contains($" sha256 {Sha.Hex("ab\uFFFDcd")} ", stdout);
        Assert.Equal("ab\uFFFDcd", host.Store.Get(id)!.Text);
    }

    [Fact]
    public async Task Run_JsonWithAnAnswerCarryingUnknownFields_EchoesTheLineAsReceived()
    {
        using var dir = new TempDirectory();
        var socketPath = dir.Combine("fake.sock");
        // A newer service's answer: fields this CLI does not know, its own spacing and escapes.
        const string answer = """{"ok":true, "drafts":[], "next_cursor":"c\u00e9", "extra":{"a":[1,2]}}""";
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        listener.Listen(1);
        var serve = Task.Run(async () =>
        {
            using var connection = await listener.AcceptAsync();
            using var stream = new NetworkStream(connection);
            using var reader = new StreamReader(stream);
            var request = await reader.ReadLineAsync();
            await stream.WriteAsync(Encoding.UTF8.GetBytes(answer + "\n"));
            return request;
        });

        var (stdout, _) = await RunCliAsync(new Dictionary<string, string>(), "list", "--limit", "3", "--json", "--pipe", socketPath);

        Assert.Equal(answer + "\n", stdout);
        Assert.Equal("""{"op":"list","limit":3}""", await serve);
    }
}
