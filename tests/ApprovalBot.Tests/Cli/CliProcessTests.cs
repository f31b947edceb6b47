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
