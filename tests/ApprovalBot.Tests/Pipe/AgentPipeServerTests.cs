using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Pipe;
using ApprovalBot.Tests.Execution;
using ApprovalBot.Tests.Infrastructure;
using ApprovalBot.Tests.Telegram;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Tests.Pipe;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed partial class AgentPipeServerTests
{
    [Fact]
    public async Task Serve_DraftWithNonAsciiText_AnsweredAsUtf8AsItWasSent()
    {
        const string text = "Привет, café — 👍";
        await using var host = await TestHost.StartAsync();
        await using var client = await host.ConnectAsync();
        Assert.True((await client.SubmitAsync(new DraftSubmission { Id = "reply:utf8", Kind = "reply", Agent = "a", Text = text })).Ok);

        var line = (await client.SendRawAsync(Encoding.UTF8.GetBytes("""{"op":"get","id":"reply:utf8"}""")))!;

        // Escaped, each Cyrillic letter took 6 bytes instead of 2 and the emoji 12 instead of 4.
        Assert.Contains(text, line, StringComparison.Ordinal);
        Assert.DoesNotContain("\\u", line, StringComparison.Ordinal);
        Assert.Equal(text, PipeClient.ParseResponse(line).Draft!.Text);
    }

    [Fact]
    public async Task Serve_DraftWhoseStoredContextIsNotValidUnicode_AnsweredWithTheContextLeftOutAndSaidWhy()
    {
        await using var host = await TestHost.StartAsync();
        await using var client = await host.ConnectAsync();
        Assert.True((await client.SubmitAsync(new DraftSubmission { Id = "reply:fine", Kind = "reply", Agent = "a", Text = "fine" })).Ok);
        // A context an older build stored unchecked: its string is not valid Unicode, which the JSON writer refuses. Such a
        // draft made every get, wait and list that included it answer internal.
        DraftFixtures.Sql(host.DataDirectory, $$"""
            INSERT INTO drafts(id, kind, agent, text, sha256, context, state, created_at, updated_at, state_since)
            VALUES ('reply:old-context', 'reply', 'old-agent', 'old text', '{{Sha.Hex("old text")}}', '{"rationale":"a\ud800b"}', 'pending', 1, 1, 1)
            """);

        foreach (var request in new[] { """{"op":"get","id":"reply:old-context"}""", """{"op":"wait","id":"reply:old-context","timeout_ms":0}""", """{"op":"list"}""" })
        {
            var line = (await client.SendRawAsync(Encoding.UTF8.GetBytes(request)))!;
            var response = PipeClient.ParseResponse(line);

            Assert.True(response.Ok, request + " -> " + line);
            var draft = response.Draft ?? Assert.Single(response.Drafts!, d => d.Id == "reply:old-context");
            Assert.Equal(("reply:old-context", "old text", Sha.Hex("old text")), (draft.Id, draft.Text, draft.Sha256));
            Assert.Null(draft.Context);
            Assert.Equal(DraftViews.UnreadableContext, draft.ContextError);
            Assert.Contains("\"context_error\":", line, StringComparison.Ordinal);
        }
        Assert.DoesNotContain("context_error", (await client.SendRawAsync(Encoding.UTF8.GetBytes("""{"op":"get","id":"reply:fine"}""")))!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_KindWhoseLongestSubmitExceedsTheLine_WarnsNamingTheLineItNeeds()
    {
        var logs = new CapturedLogs();
        // The shipped kinds: reply (280) fits 20,000 bytes with a context of 1,000, post (3,000) does not.
        await using var host = await TestHost.StartAsync(["ApprovalBot:Pipe:MaxLineBytes=20000", "ApprovalBot:Pipe:MaxContextBytes=1000"],
            services: s => s.AddSingleton<ILoggerProvider>(logs));

        var warning = Assert.Single(logs.Entries, e => e.Category == typeof(AgentPipeServer).FullName && e.Level == LogLevel.Warning);
        Assert.Equal("post", warning.Properties["Kind"]);
        Assert.Equal(3000L * 12 + 1000 + 4096, warning.Properties["LongestBytes"]);
        Assert.Contains("Set ApprovalBot:Pipe:MaxLineBytes to at least 41096", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_DefaultSettings_NoKindExceedsTheLine()
    {
        var logs = new CapturedLogs();
        await using var host = await TestHost.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));

        Assert.DoesNotContain(logs.Entries, e => e.Category == typeof(AgentPipeServer).FullName && e.Level == LogLevel.Warning);
        Assert.Contains(logs.Entries, e => e.Category == typeof(AgentPipeServer).FullName && e.Message.StartsWith("Agent pipe listening", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Serve_LineOverLimit_TooLargeThenClosedWhileOthersKeepServing()
    {
        await using var host = await TestHost.StartAsync(["ApprovalBot:Pipe:MaxLineBytes=4096"]);
        await using var bystander = await host.ConnectAsync();
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(host.PipeName));
        using var stream = new NetworkStream(socket, ownsSocket: false);

        var huge = Encoding.UTF8.GetBytes("""{"op":"submit","draft":{"id":"reply:big","kind":"reply","agent":"a","text":""" + "\"" + new string('x', 10_000) + "\"}}\n");
        await stream.WriteAsync(huge);
        using var reader = new StreamReader(stream);
        var response = PipeClient.ParseResponse((await reader.ReadLineAsync())!);
        var afterwards = await reader.ReadLineAsync();

        Assert.Equal(ErrorCodes.TooLarge, response.Error!.Code);
        Assert.Null(afterwards);
        Assert.Empty(host.Store.List(null, null, 10));
        Assert.True((await bystander.PingAsync()).Ok);
    }

    /// <summary>An agent in a loop sending lines over the limit is one warning a minute, with the count of the others, like the other pipe warnings.</summary>
    [Fact]
    public async Task Serve_ManyLinesOverLimit_OneWarningAMinuteCountingTheOthers()
    {
        var clock = new ManualTimeProvider();
        var logs = new CapturedLogs();
        await using var host = await TestHost.StartAsync(["ApprovalBot:Pipe:MaxLineBytes=1024"],
            services: s => s.AddSingleton<TimeProvider>(clock).AddSingleton<ILoggerProvider>(logs));
        var huge = Encoding.UTF8.GetBytes("""{"op":"ping","pad":" """ + new string('x', 2000) + "\"}\n");

        for (var i = 0; i < 4; i++)
        {
            if (i == 3)
            {
                clock.Advance(TimeSpan.FromMinutes(1));
            }
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(host.PipeName));
            using var stream = new NetworkStream(socket, ownsSocket: false);
            await stream.WriteAsync(huge);
            using var reader = new StreamReader(stream);
            Assert.Equal(ErrorCodes.TooLarge, PipeClient.ParseResponse((await reader.ReadLineAsync())!).Error!.Code);
            Assert.Null(await reader.ReadLineAsync());
        }

        var warnings = logs.Entries.Where(e => e.EventId.Name == "PipeLineTooLarge").ToList();
        Assert.Equal([0, 2], warnings.Select(w => w.Properties["Suppressed"]));
        Assert.All(warnings, w => Assert.Equal(LogLevel.Warning, w.Level));
    }

    [Fact]
    public async Task Serve_LineFarOverLimit_ReadToItsEndSoAnAgentThatWritesThenReadsGetsTooLarge()
    {
        // An agent that writes its whole request before it reads (the README's Python client, socat): the service must
        // not close while the agent is still writing megabytes, or the agent's write fails and it never reads the answer.
        await using var host = await TestHost.StartAsync(["ApprovalBot:Pipe:MaxLineBytes=4096"]);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(host.PipeName));
        using var stream = new NetworkStream(socket, ownsSocket: false);

        var huge = Encoding.UTF8.GetBytes("""{"op":"submit","draft":{"id":"reply:big","kind":"reply","agent":"a","text":""" + "\"" + new string('x', 8 * 1024 * 1024) + "\"}}\n");
        await stream.WriteAsync(huge);
        using var reader = new StreamReader(stream);
        var response = PipeClient.ParseResponse((await reader.ReadLineAsync())!);

        Assert.Equal(ErrorCodes.TooLarge, response.Error!.Code);
        Assert.Null(await reader.ReadLineAsync());
        Assert.Null(host.Store.Get("reply:big"));
    }

    [Fact]
    public async Task Serve_DefaultLineLimit_OneMebibyteProcessedOneByteMoreTooLarge()
    {
        const int limit = 1024 * 1024;
        await using var host = await TestHost.StartAsync();
        Assert.Equal(limit, host.Services.GetRequiredService<IOptions<AgentPipeOptions>>().Value.MaxLineBytes);
        const string ping = """{"op":"ping"}""";
        await using var client = await host.ConnectAsync();

        // Exactly the limit (JSON allows the padding): answered as usual.
        var atLimit = PipeClient.ParseResponse((await client.SendRawAsync(Encoding.UTF8.GetBytes(ping + new string(' ', limit - ping.Length))))!);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(host.PipeName));
        using var stream = new NetworkStream(socket, ownsSocket: false);
        await stream.WriteAsync(Encoding.UTF8.GetBytes(ping + new string(' ', limit + 1 - ping.Length) + "\n"));
        using var reader = new StreamReader(stream);
        var overLimit = PipeClient.ParseResponse((await reader.ReadLineAsync())!);
        var afterwards = await reader.ReadLineAsync();

        Assert.True(atLimit.Ok, atLimit.Error?.Message);
        Assert.Equal(ErrorCodes.TooLarge, overLimit.Error!.Code);
        Assert.Contains("1048576 bytes", overLimit.Error.Message, StringComparison.Ordinal);
        Assert.Null(afterwards);
        Assert.True((await client.PingAsync()).Ok);
    }

    [Fact]
    public async Task Serve_ManyRequestsOnOneConnection_AnsweredInOrder()
    {
        await using var host = await TestHost.StartAsync();
        await using var client = await host.ConnectAsync();

        for (var i = 0; i < 25; i++)
        {
            var text = $"reply number {i}";
            var response = await client.SubmitAsync(new DraftSubmission { Id = $"reply:seq:{i}", Kind = "reply", Agent = "a", Text = text });
            Assert.Equal($"reply:seq:{i}", response.Receipt!.Id);
            Assert.Equal(Sha.Hex(text), response.Receipt.Sha256);
        }
    }

    [Fact]
    public async Task Serve_PipelinedRequestsInOneWrite_OneResponseLineEach()
    {
        await using var host = await TestHost.StartAsync();
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(host.PipeName));
        using var stream = new NetworkStream(socket, ownsSocket: false);

        await stream.WriteAsync("{\"op\":\"ping\"}\n{\"op\":\"nope\"}\r\n{\"op\":\"ping\"}"u8.ToArray());
        socket.Shutdown(SocketShutdown.Send);
        using var reader = new StreamReader(stream);
        var lines = new List<string>();
        while (await reader.ReadLineAsync() is { } line)
        {
            lines.Add(line);
        }

        Assert.Equal(3, lines.Count);
        Assert.True(PipeClient.ParseResponse(lines[0]).Ok);
        Assert.Equal(ErrorCodes.UnknownOp, PipeClient.ParseResponse(lines[1]).Error!.Code);
        Assert.True(PipeClient.ParseResponse(lines[2]).Ok);
    }

    [Fact]
    public async Task Serve_FiftyClientsTwentySubmitsEach_AllStoredOnceWithMatchingHashes()
    {
        await using var host = await TestHost.StartAsync();
        var receipts = new ConcurrentBag<(Receipt Receipt, string Text)>();

        await Task.WhenAll(Enumerable.Range(0, 50).Select(async c =>
        {
            await using var client = await host.ConnectAsync();
            for (var i = 0; i < 20; i++)
            {
                var text = $"agent {c} draft {i} ünïcödé ✓ {Guid.NewGuid()}";
                var response = await client.SubmitAsync(new DraftSubmission { Id = $"post:c{c}:d{i}", Kind = "post", Agent = $"agent-{c}", Text = text });
                Assert.True(response.Ok, response.Error?.Message);
                receipts.Add((response.Receipt!, text));
            }
        }));

        Assert.Equal(1000, receipts.Count);
        Assert.Equal(1000, receipts.Select(r => r.Receipt.Seq).Distinct().Count());
        Assert.All(receipts, r => Assert.False(r.Receipt.Duplicate));
        await using var reader = await host.ConnectAsync();
        foreach (var (receipt, text) in receipts)
        {
            Assert.Equal(Sha.Hex(text), receipt.Sha256);
            var stored = (await reader.GetAsync(receipt.Id)).Draft!;
            Assert.Equal(text, stored.Text);
            Assert.Equal(receipt.Sha256, stored.Sha256);
        }
        Assert.Equal(1000, host.Store.Read(c =>
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT COUNT(*) FROM drafts";
            return Convert.ToInt32(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        }));
    }

    [Fact]
    public async Task Start_StaleSocketFileLeftBehind_TakesThePathAndServes()
    {
        using var dir = new TempDirectory();
        var socketPath = dir.Combine("p.sock");
        // A socket bound and then abandoned without unlinking, as a kill -9 leaves it (.NET would unlink on dispose).
        await ChildProcess.RunToEndAsync("python3", ["-c", "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", socketPath]);
        Assert.True(File.Exists(socketPath));

        await using var host = await TestHost.StartAsync(dataDirectory: dir.Path);
        await using var client = await host.ConnectAsync();

        Assert.True((await client.PingAsync()).Ok);
    }

    /// <summary>
    /// Only a socket can be a pipe left behind: a connect to a file, a FIFO or a device is refused just as one to a stale
    /// socket is, and before the fix a mistyped Pipe:Name (a review pointed it at /etc/passwd) deleted what it named.
    /// </summary>
    [Theory]
    [InlineData("file", "a regular file")]
    [InlineData("directory", "a directory")]
    [InlineData("fifo", "a FIFO")]
    [InlineData("link to a file", "a symbolic link")]
    [InlineData("link to a stale socket", "a symbolic link")]
    public async Task Start_PipePathHoldsSomethingElseThanASocket_RefusedNamingItAndLeftAsItIs(string what, string said)
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("p.sock");
        var target = dir.Combine("target");
        switch (what)
        {
            case "file":
                await File.WriteAllTextAsync(path, "someone's data");
                break;
            case "directory":
                Directory.CreateDirectory(path);
                break;
            case "fifo":
                await ChildProcess.RunToEndAsync("python3", ["-c", "import os,sys; os.mkfifo(sys.argv[1])", path]);
                break;
            case "link to a file":
                await File.WriteAllTextAsync(target, "someone's data");
                File.CreateSymbolicLink(path, target);
                break;
            default:
                await ChildProcess.RunToEndAsync("python3", ["-c", "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", target]);
                File.CreateSymbolicLink(path, target);
                break;
        }
        var before = new DirectoryInfo(dir.Path).EnumerateFileSystemInfos().Select(f => f.Name).Order().ToList();

        var error = await Assert.ThrowsAsync<StartupRefusedException>(() => TestHost.StartAsync([$"ApprovalBot:Pipe:Name={path}"], dataDirectory: dir.Combine("data")));

        Assert.Contains($"The agent pipe's path '{path}' (ApprovalBot:Pipe:Name) is {said}, not a socket: it is left as it is", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, new DirectoryInfo(dir.Path).EnumerateFileSystemInfos().Select(f => f.Name).Where(n => n != "data").Order().ToList());
        if (what is "file")
        {
            Assert.Equal("someone's data", await File.ReadAllTextAsync(path));
        }
    }

    [Fact]
    public async Task Start_PipePathIsTheStoreItself_RefusedAsNotASocketNotAsAnotherInstance()
    {
        using var dir = new TempDirectory();
        await using (await TestHost.StartAsync(dataDirectory: dir.Path))
        {
        }
        var store = dir.Combine("approvals.db");
        var length = new FileInfo(store).Length;

        var error = await Assert.ThrowsAsync<StartupRefusedException>(() => TestHost.StartAsync([$"ApprovalBot:Pipe:Name={store}"], dataDirectory: dir.Path));

        Assert.Contains("is a regular file, not a socket", error.Message, StringComparison.Ordinal);
        Assert.Equal(length, new FileInfo(store).Length);
    }

    [Fact]
    public async Task Start_SecondLiveInstanceOnSamePath_RefusedWithClearErrorAndFirstKeepsServing()
    {
        await using var first = await TestHost.StartAsync();
        using var otherData = new TempDirectory();

        var error = await Assert.ThrowsAsync<StartupRefusedException>(() =>
            TestHost.StartAsync([$"ApprovalBot:Pipe:Name={first.PipeName}"], dataDirectory: otherData.Path));

        Assert.Contains("Another process is serving the agent pipe", error.Message, StringComparison.Ordinal);
        await using var client = await first.ConnectAsync();
        Assert.True((await client.PingAsync()).Ok);
    }

    [Fact]
    public async Task Start_TwoInstancesRacingForOnePath_ExactlyOneServesTheOtherRefused()
    {
        // Different data directories, one Pipe:Name, started at the same moment: the claim and the bind must not
        // leave a window in which both take the path (in one process they would share the socket; in two, the
        // second would unlink the first's socket file and serve in its place).
        for (var round = 0; round < 20; round++)
        {
            using var shared = new TempDirectory();
            using var dirA = new TempDirectory();
            using var dirB = new TempDirectory();
            var socketPath = shared.Combine("p.sock");
            using var go = new ManualResetEventSlim();
            var starts = new[] { dirA, dirB }.Select(dir => Task.Run(() =>
            {
                go.Wait();
                return TestHost.StartAsync([$"ApprovalBot:Pipe:Name={socketPath}"], dataDirectory: dir.Path);
            })).ToArray();
            go.Set();
            await Task.WhenAll(starts).ContinueWith(_ => { }, TaskScheduler.Default);

            var winner = Assert.Single(starts, t => t.IsCompletedSuccessfully);
            var loser = Assert.Single(starts, t => t.IsFaulted);
            await using var host = await winner;
            var error = Assert.IsType<StartupRefusedException>(loser.Exception!.InnerException);
            Assert.Contains($"Another process is serving the agent pipe at '{socketPath}'", error.Message, StringComparison.Ordinal);
            await using var client = await PipeClient.ConnectAsync(socketPath, TimeSpan.FromSeconds(10));
            Assert.True((await client.SubmitAsync(new DraftSubmission { Id = $"reply:race:{round}", Kind = "reply", Agent = "a", Text = "t" })).Ok);
            Assert.NotNull(host.Store.Get($"reply:race:{round}"));
        }
    }

    [Fact]
    public async Task Start_TwoHostProcessesRacingForOnePath_ExactlyOneServesTheOtherExitsWithClearError()
    {
        for (var round = 0; round < 3; round++)
        {
            using var shared = new TempDirectory();
            using var dirA = new TempDirectory();
            using var dirB = new TempDirectory();
            var socketPath = shared.Combine("p.sock");
            string[] settings = [$"ApprovalBot:Pipe:Name={socketPath}"];
            var starts = new[] { dirA, dirB }.Select(dir => HostProcess.StartAsync(dir.Path, settings)).ToArray();
            await Task.WhenAll(starts).ContinueWith(_ => { }, TaskScheduler.Default);

            var winner = Assert.Single(starts, t => t.IsCompletedSuccessfully);
            var loser = Assert.Single(starts, t => t.IsFaulted);
            await using var host = await winner;
            Assert.Contains($"Another process is serving the agent pipe at '{socketPath}'", loser.Exception!.InnerException!.Message, StringComparison.Ordinal);
            await using var client = await PipeClient.ConnectAsync(socketPath, TimeSpan.FromSeconds(10));
            Assert.True((await client.PingAsync()).Ok);
        }
    }

    [Fact]
    public async Task Start_AfterThePreviousInstanceStopped_TakesThePathAtOnce()
    {
        using var shared = new TempDirectory();
        var socketPath = shared.Combine("p.sock");
        await (await TestHost.StartAsync([$"ApprovalBot:Pipe:Name={socketPath}"])).DisposeAsync();

        await using var next = await TestHost.StartAsync([$"ApprovalBot:Pipe:Name={socketPath}"]);
        await using var client = await PipeClient.ConnectAsync(socketPath, TimeSpan.FromSeconds(10));

        Assert.True((await client.PingAsync()).Ok);
        Assert.True(File.Exists(socketPath + ".lock"));
    }

    [Fact]
    public async Task Start_PlainPipeName_BindsTheComputedSocketPathAndClientsConnectByName()
    {
        var name = "ab-test-" + Guid.NewGuid().ToString("N")[..12];
        // Where .NET puts a plain name's socket: the temp folder as it resolves it ($TMPDIR, else /tmp).
        var expected = Path.Combine(Path.GetTempPath(), "CoreFxPipe_" + name);
        try
        {
            await using var host = await TestHost.StartAsync([$"ApprovalBot:Pipe:Name={name}"]);

            Assert.Equal(expected, host.Services.GetRequiredService<IOptions<AgentPipeOptions>>().Value.SocketPath);
            Assert.True(File.Exists(expected));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(expected));
            await using (var byName = await PipeClient.ConnectAsync(name, TimeSpan.FromSeconds(10)))
            {
                Assert.True((await byName.PingAsync()).Ok);
            }
            using var byPath = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await byPath.ConnectAsync(new UnixDomainSocketEndPoint(expected));
        }
        finally
        {
            File.Delete(expected + ".lock");
        }
        Assert.False(File.Exists(expected));
    }

    [Fact]
    public async Task Start_SocketFile_IsOwnerOnly()
    {
        await using var host = await TestHost.StartAsync();

        var mode = File.GetUnixFileMode(host.PipeName);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, mode);
    }

    [Fact]
    public async Task Serve_ClientVanishesMidRequest_ServerKeepsServing()
    {
        await using var host = await TestHost.StartAsync();
        using (var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(host.PipeName));
            await socket.SendAsync("""{"op":"submit","draft":{"id":"half"""u8.ToArray());
        }

        await using var client = await host.ConnectAsync();

        Assert.True((await client.PingAsync()).Ok);
        Assert.Empty(host.Store.List(null, null, 10));
    }

    [Fact]
    public async Task Start_AgentsConnectingTheMomentTheSocketAppears_NoConnectionReset()
    {
        // The race an agent loses when it connects as soon as the socket file exists: the first accepted
        // connection must not close the shared listening socket under connections still queued on it.
        for (var round = 0; round < 6; round++)
        {
            using var dir = new TempDirectory();
            await using var host = HostProcess.Launch(dir.Path);
            var socketPath = Path.Combine(dir.Path, "p.sock");
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!File.Exists(socketPath))
            {
                Assert.False(host.HasExited, host.Output);
                Assert.True(DateTime.UtcNow < deadline, "the socket never appeared");
                // Polling a file's appearance: the point is to connect before any signal of readiness exists.
                await Task.Delay(1);
            }
            using (var probe = await ConnectAsSoonAsListeningAsync(socketPath, deadline))
            {
                await probe.SendAsync("{\"op\":\"ping\"}\n"u8.ToArray());
                var buffer = new byte[4096];
                Assert.True(await probe.ReceiveAsync(buffer) > 0);
            }
            await using var agent = await PipeClient.ConnectAsync(socketPath, TimeSpan.FromSeconds(10));
            for (var i = 0; i < 4; i++)
            {
                Assert.True((await agent.ListAsync(limit: 5)).Ok);
            }
        }
    }

    /// <summary>
    /// The socket file appears at bind, a moment before listen; a connect in between is refused, and agents
    /// (like .NET's pipe client) retry that. What must never happen once connected is a reset.
    /// </summary>
    private static async Task<Socket> ConnectAsSoonAsListeningAsync(string socketPath, DateTime deadline)
    {
        while (true)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath));
                return socket;
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused && DateTime.UtcNow < deadline)
            {
                socket.Dispose();
                await Task.Delay(1);
            }
        }
    }

    [Fact]
    public async Task Stop_WaitInProgress_WaiterToldTheServiceIsShuttingDownAndNothingChanged()
    {
        await using var host = await TestHost.StartAsync();
        await using var agent = await host.ConnectAsync();
        var id = (await agent.SubmitAsync(new DraftSubmission { Id = "reply:waited", Kind = "reply", Agent = "a", Text = "hi" })).Receipt!.Id;
        var registered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Store.Signals.WaitingChanged += count =>
        {
            if (count > 0) registered.TrySetResult();
        };
        await using var waiter = await host.ConnectAsync();
        var waiting = waiter.WaitAsync(id, 600_000);
        await registered.Task.WaitAsync(TimeSpan.FromSeconds(30));

        // The wait asked for ten minutes; the stop must not wait for it, and the agent must be told why it ended.
        await host.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));
        var answer = await waiting.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.False(answer.Ok);
        Assert.Equal(ErrorCodes.Unavailable, answer.Error!.Code);
        Assert.Contains("shutting down", answer.Error.Message, StringComparison.Ordinal);
        Assert.Equal(ApprovalBot.Drafts.DraftState.Pending, host.Store.Get(id)!.State);
        await Assert.ThrowsAnyAsync<IOException>(() => waiter.PingAsync());
    }

    [Fact]
    public async Task Stop_SubmitWaitingForItsCommit_AgentGetsItsReceipt()
    {
        await using var host = await TestHost.StartAsync();
        var writer = host.Services.GetRequiredService<ApprovalBot.Drafts.DraftWriter>();
        await using var slow = HeldCommit.Start(host.Store);
        await using var agent = await host.ConnectAsync();
        var submitting = agent.SubmitAsync(new DraftSubmission { Id = "reply:at-stop", Kind = "reply", Agent = "a", Text = "stored while stopping" });
        await Eventually.TrueAsync(() => writer.Queued == 1, "the submit queued behind the running commit");

        // The stop comes while the submit waits for its commit: the draft is stored, so the agent must get its receipt,
        // not "unavailable" for a draft that is there.
        var stopping = host.Services.GetRequiredService<AgentPipeServer>().StopAsync(CancellationToken.None);
        Assert.False(stopping.IsCompleted);
        slow.Release();
        await slow.Written;
        var answer = await submitting.WaitAsync(TimeSpan.FromSeconds(30));
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(answer.Ok, answer.Error?.Message);
        Assert.Equal(host.Store.Get("reply:at-stop")!.Seq, answer.Receipt!.Seq);
    }

    [Fact]
    public async Task Stop_AgentNeverReadsItsAnswers_StopStillCompletes()
    {
        await using var host = await TestHost.StartAsync();
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(host.PipeName));
        socket.Blocking = false;
        var pings = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("""{"op":"ping"}""" + "\n", 1024)));

        // Until our send buffer is full: the service has filled ours with answers nobody reads and sits in a write.
        var sent = 0L;
        while (true)
        {
            var count = socket.Send(pings, SocketFlags.None, out var error);
            if (error == SocketError.WouldBlock)
            {
                break;
            }
            Assert.Equal(SocketError.Success, error);
            sent += count;
        }

        // Without a limit on an answer's write at stop this never completes: the agent holds the service up for good.
        await host.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(sent > pings.Length, "the service never stopped reading, so it was never blocked on this agent");
        Assert.False(File.Exists(host.PipeName));
    }

    [Fact]
    public async Task Stop_IdleConnectionOpen_StopsAndTheAgentSeesTheConnectionClosed()
    {
        await using var host = await TestHost.StartAsync();
        await using var idle = await host.ConnectAsync();
        Assert.True((await idle.PingAsync()).Ok);

        await host.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));

        // "Broken pipe" or "closed the connection", depending on whether the request's write or its read notices (a write that
        // fails, the request is sent again, and connecting again fails: RequestNotCarriedOutException, an IOException).
        await Assert.ThrowsAnyAsync<IOException>(() => idle.PingAsync());
        Assert.True(idle.IsClosed);
        Assert.False(File.Exists(host.PipeName));
    }
    [Fact]
    public async Task Serve_AgentHangsUpWhileWaiting_WaitAndItsConnectionLetGoLongBeforeItsTimeout()
    {
        // Two slots: one for the agent below, one for the waits. A wait kept until its timeout held its slot, its
        // socket and its registration for ten minutes, so the second wait here could not even be accepted.
        await using var host = await TestHost.StartAsync(["ApprovalBot:Pipe:MaxConnections=2"]);
        await using var agent = await host.ConnectAsync();
        var id = (await agent.SubmitAsync(new DraftSubmission { Id = "reply:abandoned", Kind = "reply", Agent = "a", Text = "hi" })).Receipt!.Id;

        for (var i = 0; i < 3; i++)
        {
            var registered = WaitingReaches(host, 1);
            using (var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(host.PipeName));
                await socket.SendAsync(Encoding.UTF8.GetBytes($$"""{"op":"wait","id":"{{id}}","timeout_ms":600000}""" + "\n"));
                await registered.WaitAsync(TimeSpan.FromSeconds(30));
            }

            // Killed mid-wait: let go within a few looks at the socket, not at the ten minutes it asked for.
            await WaitingReaches(host, 0).WaitAsync(TimeSpan.FromSeconds(10));
        }

        Assert.Equal(0, host.Store.Signals.WaitedIds);
        await using var next = await host.ConnectAsync();
        Assert.True((await next.PingAsync()).Ok);
        Assert.Equal(DraftState.Pending, host.Store.Get(id)!.State);
    }

    [Fact]
    public async Task Serve_AgentShutsOnlyItsSendingSideWhileWaiting_StillGetsItsAnswer()
    {
        await using var host = await TestHost.StartAsync();
        await using var agent = await host.ConnectAsync();
        var id = (await agent.SubmitAsync(new DraftSubmission { Id = "reply:half-closed", Kind = "reply", Agent = "a", Text = "hi" })).Receipt!.Id;
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(host.PipeName));

        // The last request without its newline, then end of input: as `printf ... | nc -N -U` sends it. Long enough
        // for the hang-up watch to look several times; it must not take this for an agent that went away.
        await socket.SendAsync(Encoding.UTF8.GetBytes($$"""{"op":"wait","id":"{{id}}","timeout_ms":2500}"""));
        socket.Shutdown(SocketShutdown.Send);
        var answer = new MemoryStream();
        var buffer = new byte[4096];
        int read;
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, limit.Token)) > 0)
        {
            answer.Write(buffer, 0, read);
        }

        var response = PipeClient.ParseResponse(Encoding.UTF8.GetString(answer.ToArray()).TrimEnd('\n'));
        Assert.True(response.Ok);
        Assert.False(response.Decided);
        Assert.Equal(id, response.Draft!.Id);
    }

    /// <summary>Completes once the count of registered waits is <paramref name="count"/> (at once if it is now).</summary>
    private static Task WaitingReaches(TestHost host, int count)
    {
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Store.Signals.WaitingChanged += n =>
        {
            if (n == count) reached.TrySetResult();
        };
        if (host.Store.Signals.Waiting == count) reached.TrySetResult();
        return reached.Task;
    }
}
