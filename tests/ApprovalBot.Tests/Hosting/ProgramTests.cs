using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Tests.Hosting;

/// <summary>The host as a real child process: crash and restart on the same data directory, and refusal of bad configuration.</summary>
public sealed class ProgramTests
{
    [Fact]
    public async Task Submit_ReceiptThenKill9_DraftSurvivesRestartWithSameHash()
    {
        using var dir = new TempDirectory();
        const string text = "Survives a kill -9 — ✓";
        Receipt receipt;
        await using (var host = await HostProcess.StartAsync(dir.Path))
        {
            await using var client = await host.ConnectAsync();
            receipt = (await client.SubmitAsync(new DraftSubmission { Id = "reply:crash:1", Kind = "reply", Agent = "a", Text = text })).Receipt!;
            await host.KillAsync();
        }

        await using var restarted = await HostProcess.StartAsync(dir.Path);
        await using var reader = await restarted.ConnectAsync();
        var stored = (await reader.GetAsync("reply:crash:1")).Draft!;

        Assert.Equal(Sha.Hex(text), receipt.Sha256);
        Assert.Equal(text, stored.Text);
        Assert.Equal(receipt.Sha256, stored.Sha256);
        Assert.Equal(receipt.Seq, stored.Seq);
    }

    [Fact]
    public async Task Submit_BatchInFlightWhenKilled_EveryReceiptReceivedIsHonoured()
    {
        using var dir = new TempDirectory();
        var received = new ConcurrentDictionary<string, (Receipt Receipt, string Text)>();
        await using (var host = await HostProcess.StartAsync(dir.Path))
        {
            var enough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var agents = Enumerable.Range(0, 16).Select(async agent =>
            {
                try
                {
                    await using var client = await host.ConnectAsync();
                    for (var i = 0; ; i++)
                    {
                        var id = $"post:a{agent}:{i}";
                        var text = $"agent {agent} draft {i} {Guid.NewGuid()}";
                        var response = await client.SubmitAsync(new DraftSubmission { Id = id, Kind = "post", Agent = $"a{agent}", Text = text });
                        received[id] = (response.Receipt!, text);
                        if (received.Count >= 300) enough.TrySetResult();
                    }
                }
                catch (Exception ex) when (ex is IOException or ObjectDisposedException or TimeoutException)
                {
                    // The host died under this agent: a receipt never read is a draft the agent must resubmit.
                }
            }).ToList();
            await enough.Task.WaitAsync(TimeSpan.FromSeconds(60));
            await host.KillAsync();
            await Task.WhenAll(agents).WaitAsync(TimeSpan.FromSeconds(30));
        }
        var honouredBeforeRestart = received.ToArray();

        await using var restarted = await HostProcess.StartAsync(dir.Path);
        await using var reader = await restarted.ConnectAsync();

        Assert.True(honouredBeforeRestart.Length >= 300);
        foreach (var (id, (receipt, text)) in honouredBeforeRestart)
        {
            var stored = (await reader.GetAsync(id)).Draft;
            Assert.NotNull(stored);
            Assert.Equal(text, stored.Text);
            Assert.Equal(receipt.Sha256, stored.Sha256);
        }
    }

    [Fact]
    public async Task Start_InvalidConfiguration_ExitsNonZeroNamingEachBadKey()
    {
        using var dir = new TempDirectory();

        // The store's and Telegram's settings are read by services the host builds before its own checks: each of
        // them used to stop the start alone, hiding the others.
        var host = await HostProcess.RunToExitAsync(dir.Path, [
            "ApprovalBot:Kinds:reply:MaxLength=0", "ApprovalBot:Pipe:MaxLineBytes=10", "ApprovalBot:MaxBatch=0",
            "ApprovalBot:Telegram:PollTimeoutSeconds=99", "ApprovalBot:Kinds:post:StaleAfter=10675199.00:00:00",
            "ApprovalBot:Kinds:reply:MaxLenght=10"]);

        Assert.Equal(1, host.ExitCode);
        Assert.Contains("ApprovalBot:Kinds:reply:MaxLength must be between 1 and 1000000 (got 0)", host.Output, StringComparison.Ordinal);
        Assert.Contains("ApprovalBot:Pipe:MaxLineBytes must be between 1024 and 67108864 (got 10)", host.Output, StringComparison.Ordinal);
        Assert.Contains("ApprovalBot:MaxBatch must be between 1 and 10000 (got 0)", host.Output, StringComparison.Ordinal);
        Assert.Contains("ApprovalBot:Telegram:PollTimeoutSeconds", host.Output, StringComparison.Ordinal);
        Assert.Contains("ApprovalBot:Kinds:post:StaleAfter must be a positive duration", host.Output, StringComparison.Ordinal);
        Assert.Contains("ApprovalBot:Kinds:reply:MaxLenght is not a setting (did you mean MaxLength?)", host.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir.Path, "approvals.db")), "a refused start must not create the store");
    }

    [Fact]
    public async Task Start_SettingsOfTheWrongType_ExitNonZeroNamingThemAndEveryOtherBadKeyWithoutAStackTrace()
    {
        using var dir = new TempDirectory();

        var host = await HostProcess.RunToExitAsync(dir.Path, [
            "ApprovalBot:MaxBatch=lots", "ApprovalBot:Kinds:reply:MaxLenght=10", "ApprovalBot:Pipe:MaxLineBytes=10", "ApprovalBot:Execution:MaxParallel=many",
            // The binder left these out without an error: the kind post was gone, and an approver with it.
            "ApprovalBot:Kinds:post:StaleAfter=soon", "ApprovalBot:Telegram:Approvers:0=l001"]);

        Assert.Equal(1, host.ExitCode);
        Assert.Contains("ApprovalBot configuration is invalid", host.Output, StringComparison.Ordinal);
        Assert.Contains("'lots' at 'ApprovalBot:MaxBatch'", host.Output, StringComparison.Ordinal);
        Assert.Contains("'many' at 'ApprovalBot:Execution:MaxParallel'", host.Output, StringComparison.Ordinal);
        Assert.Contains("ApprovalBot:Kinds:reply:MaxLenght is not a setting", host.Output, StringComparison.Ordinal);
        Assert.Contains("ApprovalBot:Pipe:MaxLineBytes must be between", host.Output, StringComparison.Ordinal);
        Assert.Contains("'soon' at 'ApprovalBot:Kinds:post:StaleAfter'", host.Output, StringComparison.Ordinal);
        Assert.Contains("ApprovalBot:Telegram:Approvers:0: 'l001' is not a whole number", host.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", host.Output, StringComparison.Ordinal);
    }

    /// <summary>
    /// A setting layered over the shipped config/appsettings.json that the start passed over without a word: a value in the
    /// environment over a list or a group the file fills (the file's approvers stayed in force), an approver replaced by
    /// index while the file's next one stayed, an empty value meant to empty the list, a JSON null for a number (said as
    /// "got 0"). Each is refused naming the key and where it came from, exit 1, nothing created.
    /// </summary>
    [Theory]
    [InlineData("\"Approvers\": []", "\"Approvers\": [1001]", "ApprovalBot__Telegram__Approvers", "777", "ApprovalBot:Telegram:Approvers is a list, given as one value ('777' in the environment variable ApprovalBot__Telegram__Approvers): give each item a key of its own")]
    [InlineData("\"Approvers\": []", "\"Approvers\": [1001, 555]", "ApprovalBot__Telegram__Approvers__0", "777", "ApprovalBot:Telegram:Approvers: the items in the environment (ApprovalBot:Telegram:Approvers:0=777) replace only some of the list's items; ApprovalBot:Telegram:Approvers:1=555 in {file} would stay in the list")]
    [InlineData("\"Approvers\": []", "\"Approvers\": [1001]", "ApprovalBot__Telegram__Approvers", "", "ApprovalBot:Telegram:Approvers: an empty value in the environment variable ApprovalBot__Telegram__Approvers does not empty the list: the items in {file} stay in force")]
    [InlineData("", "", "ApprovalBot__Telegram__RateLimits", "5", "ApprovalBot:Telegram:RateLimits is a group of settings (PerChatPerSecond, PerChatBurst, PerGroupPerMinute, GlobalPerSecond), not a value ('5' in the environment variable ApprovalBot__Telegram__RateLimits). The settings below it in {file} stay in force")]
    [InlineData("\"MaxLength\": 280", "\"MaxLength\": null", "", "", "ApprovalBot:Kinds:reply:MaxLength has no value (null in {file})")]
    public async Task Start_SettingLayeredOverTheShippedFileThatWasPassedOver_ExitsOneNamingTheKeyAndWhereItCameFrom(string replace, string with, string variable, string value, string expected)
    {
        using var dir = new TempDirectory();
        var shipped = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "config", "appsettings.json"));
        Assert.Contains(replace, shipped, StringComparison.Ordinal);
        var (program, settings) = ProgramCopy.Create(Path.Combine(dir.Path, "app"), replace.Length == 0 ? shipped : shipped.Replace(replace, with, StringComparison.Ordinal));
        var data = Path.Combine(dir.Path, "data");
        Directory.CreateDirectory(data);
        var environment = variable.Length == 0 ? null : new Dictionary<string, string> { [variable] = value };

        await using var host = await HostProcess.StartOrExitAsync(data, null, environment, program);

        Assert.True(host.HasExited, $"the service started:\n{host.Output}");
        Assert.Equal(1, host.ExitCode);
        Assert.Contains("ApprovalBot configuration is invalid", host.Output, StringComparison.Ordinal);
        Assert.Contains("  - " + expected.Replace("{file}", settings, StringComparison.Ordinal), host.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("(got 0)", host.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", host.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(data, "approvals.db")), "a refused start must not create the store");
    }

    /// <summary>
    /// A JSON null for a group of settings or a text, and a value for the whole section on the command line: each was passed
    /// over (the defaults started) and is refused now, named with where it came from, exit 1, nothing created.
    /// </summary>
    [Fact]
    public async Task Start_NullGroupNullTextAndAValueForTheSection_ExitsOneNamingEach()
    {
        using var dir = new TempDirectory();
        var (program, settings) = ProgramCopy.Create(Path.Combine(dir.Path, "app"), """{ "ApprovalBot": { "Reconciliation": null, "Telegram": { "ApiBaseUrl": null } } }""");
        var data = Path.Combine(dir.Path, "data");
        Directory.CreateDirectory(data);

        await using var host = await HostProcess.StartOrExitAsync(data, ["ApprovalBot=5"], null, program);

        Assert.True(host.HasExited, $"the service started:\n{host.Output}");
        Assert.Equal(1, host.ExitCode);
        Assert.Contains("ApprovalBot configuration is invalid", host.Output, StringComparison.Ordinal);
        // The test host gives the data directory and the pipe on the command line too.
        Assert.Contains($"  - ApprovalBot is the section of the service's settings (such as ApprovalBot:DataDirectory=…), not a value ('5' on the command line). The settings below it in {settings} and on the command line stay in force", host.Output, StringComparison.Ordinal);
        Assert.Contains($"  - ApprovalBot:Reconciliation has no value (null in {settings})", host.Output, StringComparison.Ordinal);
        Assert.Contains($"  - ApprovalBot:Telegram:ApiBaseUrl has no value (null in {settings})", host.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("(got ", host.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", host.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(data, "approvals.db")), "a refused start must not create the store");
    }

    /// <summary>
    /// Serilog reads its levels while the host is built, before the settings are checked: a misspelt level stopped the
    /// start with a stack trace ("could not run"). It is a bad key like any other now, listed with them.
    /// </summary>
    [Fact]
    public async Task Start_MisspeltLogLevel_ExitsNonZeroNamingItWithTheOtherBadKeysWithoutAStackTrace()
    {
        using var dir = new TempDirectory();

        var host = await HostProcess.RunToExitAsync(dir.Path, ["Serilog:MinimumLevel:Default=Informaton", "Serilog:MinimumLevel:Override:Quartz=Loud", "ApprovalBot:MaxBatch=0"]);

        Assert.Equal(1, host.ExitCode);
        Assert.Contains("ApprovalBot configuration is invalid", host.Output, StringComparison.Ordinal);
        Assert.Contains("Serilog:MinimumLevel:Default: 'Informaton' is not a log level (Verbose, Debug, Information, Warning, Error, Fatal).", host.Output, StringComparison.Ordinal);
        Assert.Contains("Serilog:MinimumLevel:Override:Quartz: 'Loud' is not a log level", host.Output, StringComparison.Ordinal);
        Assert.Contains("ApprovalBot:MaxBatch must be between 1 and 10000 (got 0)", host.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", host.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir.Path, "approvals.db")));
    }

    /// <summary>
    /// Serilog's own settings (sinks, enrichers, the assemblies they come from, level switches) are read while the host is
    /// built: a mistake there ended the start with Serilog's stack trace ("could not run"), or was passed over without a
    /// word (a misspelt sink logged nowhere). Each is a bad key now, named, listed with the others, exit 1.
    /// </summary>
    [Theory]
    [InlineData("Serilog:WriteTo:0:Name=Nope", "Serilog:WriteTo:0: Serilog has no sink 'Nope' that takes no arguments")]
    [InlineData("Serilog:Using:0=Serilog.Sinks.Nope", "Serilog:Using:0: Could not load file or assembly 'Serilog.Sinks.Nope")]
    [InlineData("Serilog:LevelSwitches:$app=Loud", "Serilog:LevelSwitches:$app: The value Loud is not a valid Serilog level.")]
    [InlineData("Serilog:WriteTo:0:Name=File Serilog:WriteTo:0:Args:path=x.json Serilog:WriteTo:0:Args:rollingInterval=Weekly", "Serilog:WriteTo:0:Args:rollingInterval: Requested value 'Weekly' was not found.")]
    public async Task Start_BadSerilogSetting_ExitsOneNamingTheKeyWithTheOtherBadKeysWithoutAStackTrace(string settings, string expected)
    {
        using var dir = new TempDirectory();

        var host = await HostProcess.RunToExitAsync(dir.Path, [.. settings.Split(' '), "ApprovalBot:MaxBatch=0"]);

        Assert.True(host.ExitCode == 1, $"exit {host.ExitCode}:\n{host.Output}");
        Assert.Contains("ApprovalBot configuration is invalid", host.Output, StringComparison.Ordinal);
        Assert.Contains("  - " + expected, host.Output, StringComparison.Ordinal);
        Assert.Contains("ApprovalBot:MaxBatch must be between 1 and 10000 (got 0)", host.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", host.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir.Path, "approvals.db")));
    }

    /// <summary>
    /// A command line the configuration would misread: a key without its value (dropped, or given the next key as its
    /// value), a single-dash switch (a FormatException with its stack trace, or dropped). Exit 2, as a stray word gets,
    /// before anything is created.
    /// </summary>
    [Theory]
    [InlineData("--ApprovalBot:MaxBatch", "ApprovalBot: --ApprovalBot:MaxBatch has no value (give it as --ApprovalBot:MaxBatch=<value>).")]
    [InlineData("--ApprovalBot:MaxBatch --ApprovalBot:BusyTimeoutMs=100", "ApprovalBot: --ApprovalBot:MaxBatch has no value")]
    [InlineData("-ApprovalBot:MaxBatch=5", "ApprovalBot: unexpected argument '-ApprovalBot:MaxBatch=5'")]
    [InlineData("-v", "ApprovalBot: unexpected argument '-v'")]
    public async Task Start_MisreadCommandLine_ExitsTwoWithoutAStackTraceOrCreatingAnything(string args, string expected)
    {
        using var dir = new TempDirectory();
        var data = Path.Combine(dir.Path, "data");
        var info = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "ApprovalBot.dll"), $"--ApprovalBot:DataDirectory={data}",
                     $"--ApprovalBot:Pipe:Name={Path.Combine(dir.Path, "p.sock")}", "--ApprovalBot:Sandbox:Url=http://127.0.0.1:0" }.Concat(args.Split(' ')))
        {
            info.ArgumentList.Add(arg);
        }

        using var process = System.Diagnostics.Process.Start(info)!;
        // Before the fix the service started and served: stopped after a minute, so the test fails instead of hanging.
        using var patience = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        using var stop = patience.Token.Register(() => process.Kill(entireProcessTree: true));
        var stderr = process.StandardError.ReadToEndAsync();
        var output = await process.StandardOutput.ReadToEndAsync() + await stderr;
        await process.WaitForExitAsync();

        Assert.True(process.ExitCode == 2, $"exit {process.ExitCode}: {output}");
        Assert.Contains(expected, output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(data));
    }

    [Fact]
    public async Task Run_APartFailsWhileRunning_ExitsNonZeroNamingIt()
    {
        using var dir = new TempDirectory();
        using (var database = new SqliteDatabase(Options.Create(new StoreOptions { DataDirectory = dir.Path })))
        {
            database.Initialize();
            using var connection = database.Open();
            using var cmd = connection.CreateCommand();
            cmd.CommandText = "INSERT INTO settings(key, value) VALUES ('telegram.offset', 'not-a-number')";
            cmd.ExecuteNonQuery();
        }
        SqliteConnection.ClearAllPools();

        // The poller cannot know which updates were handled: it stops the service, which used to exit 0 (so a
        // supervisor's restart-on-failure never brought it back).
        var host = await HostProcess.RunToExitAsync(dir.Path);

        Assert.Equal(1, host.ExitCode);
        Assert.Contains("ApprovalBot stopped because UpdatePoller failed", host.Output, StringComparison.Ordinal);
        Assert.Contains("The stored Telegram update offset (settings key 'telegram.offset') is not a number: 'not-a-number'", host.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_SecondInstanceOnSameDataDirectory_RefusedWhileFirstServes()
    {
        using var dir = new TempDirectory();
        await using var first = await HostProcess.StartAsync(dir.Path);

        var second = await HostProcess.RunToExitAsync(dir.Path, [$"ApprovalBot:Pipe:Name={Path.Combine(dir.Path, "other.sock")}"]);

        Assert.Equal(1, second.ExitCode);
        Assert.Contains("Another ApprovalBot process is using the data directory", second.Output, StringComparison.Ordinal);
        // Said once, without the two stack traces (the host's and ours) it used to come with.
        Assert.Single(second.Output.Split('\n'), l => l.Contains("Another ApprovalBot process", StringComparison.Ordinal));
        Assert.DoesNotContain("   at ", second.Output, StringComparison.Ordinal);
        await using var client = await first.ConnectAsync();
        Assert.True((await client.PingAsync()).Ok);
    }

    /// <summary>
    /// A second instance given a data directory of its own but the pipe of a running one: refused for the pipe, and
    /// refused before anything is created in its data directory (it used to open the store first and leave an empty
    /// approvals.db and a log folder there).
    /// </summary>
    [Fact]
    public async Task Start_SecondInstanceOnAPipeInUse_RefusedWithoutCreatingAnythingInItsDataDirectory()
    {
        using var dir = new TempDirectory();
        await using var first = await HostProcess.StartAsync(dir.Path);
        var second = Path.Combine(dir.Path, "second");
        Directory.CreateDirectory(second);

        var host = await HostProcess.RunToExitAsync(second, [$"ApprovalBot:Pipe:Name={first.PipeName}"]);

        Assert.Equal(1, host.ExitCode);
        Assert.Contains($"Another process is serving the agent pipe at '{first.PipeName}'", host.Output, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(second));
        await using var client = await first.ConnectAsync();
        Assert.True((await client.PingAsync()).Ok);
    }

    /// <summary>The other way round: a new pipe path beside the data directory of a running instance gets no lock file.</summary>
    [Fact]
    public async Task Start_SecondInstanceOnADataDirectoryInUse_RefusedWithoutCreatingItsPipeFolder()
    {
        using var dir = new TempDirectory();
        await using var first = await HostProcess.StartAsync(dir.Path);
        var pipeFolder = Path.Combine(dir.Path, "other-run");

        var host = await HostProcess.RunToExitAsync(dir.Path, [$"ApprovalBot:Pipe:Name={Path.Combine(pipeFolder, "p.sock")}"]);

        Assert.Equal(1, host.ExitCode);
        Assert.Contains("Another ApprovalBot process is using the data directory", host.Output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(pipeFolder));
    }

    [Fact]
    public async Task Start_DataDirectoryIsAFile_ExitNonZeroNamingTheSettingWithoutAStackTrace()
    {
        using var dir = new TempDirectory();
        var file = Path.Combine(dir.Path, "not-a-folder");
        await File.WriteAllTextAsync(file, "x");

        var host = await HostProcess.RunToExitAsync(dir.Path, [$"ApprovalBot:DataDirectory={file}"]);

        Assert.Equal(1, host.ExitCode);
        Assert.Contains($"ApprovalBot could not start: ApprovalBot:DataDirectory '{file}' cannot be used", host.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", host.Output, StringComparison.Ordinal);
    }

    /// <summary>
    /// A config/appsettings.json edited into something that is not JSON (a comma left out): the file and the parser's
    /// position, as a bad setting is said, not a stack trace. The program is copied beside a config folder of its own, as
    /// the runtime takes the folder of the program's real path as the application's; the rest of the build is linked.
    /// </summary>
    [Fact]
    public async Task Start_ConfigurationFileNotJson_ExitNonZeroNamingTheFileAndWhereWithoutAStackTrace()
    {
        using var dir = new TempDirectory();
        var (program, settings) = ProgramCopy.Create(Path.Combine(dir.Path, "app"), "{ \"ApprovalBot\": {\n  \"MaxBatch\": 256\n  \"BusyTimeoutMs\": 5000 } }");

        var (exitCode, output) = await RunCopyAsync(program, dir.Path);

        Assert.Equal(1, exitCode);
        Assert.Contains($"ApprovalBot configuration is invalid:\n  - Failed to load configuration from file '{settings}'.", output, StringComparison.Ordinal);
        Assert.Contains("LineNumber: 2", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "data")));
    }

    /// <summary>A copy of the program (<see cref="ProgramCopy"/>) run to its end on a data directory and pipe in <paramref name="folder"/>: its exit code, stdout then stderr.</summary>
    private static async Task<(int ExitCode, string Output)> RunCopyAsync(string program, string folder)
    {
        var info = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { program, $"--ApprovalBot:DataDirectory={Path.Combine(folder, "data")}", $"--ApprovalBot:Pipe:Name={Path.Combine(folder, "p.sock")}" })
        {
            info.ArgumentList.Add(arg);
        }
        using var process = System.Diagnostics.Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var output = await process.StandardOutput.ReadToEndAsync() + await stderr;
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        return (process.ExitCode, output);
    }

    /// <summary>
    /// config/appsettings.json deleted (or left out of a copy of the published folder): refused saying which file is missing
    /// and where a fresh one comes from, not the JSON provider's FileNotFoundException with its stack trace.
    /// </summary>
    [Fact]
    public async Task Start_ConfigurationFileMissing_ExitNonZeroNamingTheFileWithoutAStackTrace()
    {
        using var dir = new TempDirectory();
        var (program, settings) = ProgramCopy.Create(Path.Combine(dir.Path, "app"), "{}");
        File.Delete(settings);

        var (exitCode, output) = await RunCopyAsync(program, dir.Path);

        Assert.Equal(1, exitCode);
        Assert.Contains($"ApprovalBot could not start: the configuration file '{settings}' is missing.", output, StringComparison.Ordinal);
        // Where it says a fresh copy is must be a file of the repository (it named src/ApprovalBot/config/…, which is not).
        Assert.Contains("copy it back from config/appsettings.json at the root of the repository", output, StringComparison.Ordinal);
        Assert.True(File.Exists(Docs.ReadmeTests.RepositoryFile("config/appsettings.json")));
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "data")));
    }

    /// <summary>
    /// Refused before anything is created: the sandbox's address is looked at before the locks and the store (it used to
    /// be bound only after the store was opened, which left an approvals.db, its lock and the pipe's lock in a new data
    /// directory on the way out).
    /// </summary>
    [Fact]
    public async Task Start_SandboxPortInUse_ExitNonZeroNamingTheSettingWithoutAStackTraceOrCreatingAnything()
    {
        // The usual first-run mistake: a second copy started with the default Sandbox:Url while another serves it.
        using var dir = new TempDirectory();
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var url = $"http://127.0.0.1:{((IPEndPoint)taken.LocalEndpoint).Port}";
        var data = Path.Combine(dir.Path, "new");
        Directory.CreateDirectory(data);

        var host = await HostProcess.RunToExitAsync(data, [$"ApprovalBot:Sandbox:Url={url}"]);

        Assert.Empty(Directory.GetFileSystemEntries(data));
        Assert.Equal(1, host.ExitCode);
        Assert.Contains($"ApprovalBot could not start: The built-in Telegram sandbox cannot listen on {url} (ApprovalBot:Sandbox:Url): ", host.Output, StringComparison.Ordinal);
        Assert.Contains("give this instance its own ApprovalBot:Sandbox:Url", host.Output, StringComparison.Ordinal);
        Assert.Single(host.Output.Split('\n'), l => l.Contains("cannot listen on", StringComparison.Ordinal));
        Assert.DoesNotContain("   at ", host.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stop_SigtermWithBuiltInSandbox_ExitsZeroWithoutThePollerLosingItsServer()
    {
        using var dir = new TempDirectory();
        var host = await HostProcess.StartAsync(dir.Path);
        await host.WaitForOutputAsync("polling for updates", TimeSpan.FromSeconds(30));

        await host.TerminateAsync();

        Assert.Equal(0, host.ExitCode);
        Assert.Contains("Telegram sandbox", host.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("getUpdates failed", host.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("[ERR]", host.Output, StringComparison.Ordinal);
        await host.DisposeAsync();
    }

    [Fact]
    public async Task Stop_SigtermWhileStarting_ExitsZero()
    {
        using var dir = new TempDirectory();
        var host = await HostProcess.StartAsync(dir.Path);

        await host.TerminateAsync();

        Assert.Equal(0, host.ExitCode);
        await host.DisposeAsync();
    }
}
