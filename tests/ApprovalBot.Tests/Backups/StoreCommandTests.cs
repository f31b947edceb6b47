using ApprovalBot.Backups;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Backups;

/// <summary>
/// The command line of <c>ApprovalBot backup|restore</c>, run in-process against real store files: what starts the
/// service instead, each bad command line and configuration (exit 2, a clear reason, nothing written), and the output of
/// a backup and a restore. The README's blocks run the real program in Reliability/BackupRestoreTests.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class StoreCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private (int ExitCode, string Stdout, string Stderr) Run(params string[] args)
    {
        var command = StoreCommand.Parse(args);
        Assert.NotNull(command);
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = command.Run(stdout, stderr, TimeProvider.System);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Theory]
    [InlineData]
    [InlineData("--ApprovalBot:DataDirectory=/var/lib/approvalbot")]
    [InlineData("--ApprovalBot:DataDirectory", "/var/lib/approvalbot")]
    [InlineData("ApprovalBot:DataDirectory=/var/lib/approvalbot")]
    [InlineData("/ApprovalBot:DataDirectory=/var/lib/approvalbot")]
    // A negative value (a group's chat id) after its key is a value, not a switch.
    [InlineData("--ApprovalBot:Telegram:ChatId", "-1001234")]
    public void Parse_SettingsOnly_StartsTheService(params string[] args) => Assert.Null(StoreCommand.Parse(args));

    /// <summary>Each case: the arguments after the program (with <c>{data}</c> for a data directory holding a store), and what stderr says.</summary>
    public static TheoryData<string, string[], string> BadCommandLines => new()
    {
        { "a misspelt command", ["bakup", "{out}"], "unknown command 'bakup'" },
        { "backup without a file", ["backup"], "name the new file to write" },
        { "restore without a file", ["restore"], "name the backup file to restore" },
        { "an empty file name (a script's unset variable)", ["backup", "", "--ApprovalBot:DataDirectory={data}"], "name the new file to write" },
        { "an empty backup to restore", ["restore", "", "--ApprovalBot:DataDirectory={data}"], "name the backup file to restore" },
        { "a setting where the file belongs", ["backup", "--ApprovalBot:DataDirectory={data}"], "name the new file to write" },
        { "settings before restore", ["--ApprovalBot:DataDirectory={data}", "restore", "{out}"], "ApprovalBot restore: the command comes first, before the settings" },
        { "a setting's key and value before backup", ["--ApprovalBot:DataDirectory", "{data}", "backup", "{out}"], "ApprovalBot backup: the command comes first" },
        { "a stray word among settings", ["--ApprovalBot:DataDirectory={data}", "bakup"], "unexpected argument 'bakup'" },
        { "two files", ["backup", "{out}", "{out}.2"], "unexpected argument" },
        { "a bare --", ["backup", "{out}", "--"], "unexpected argument '--'" },
        { "an unknown setting", ["backup", "{out}", "--ApprovalBot:DataDirecory={data}"], "ApprovalBot:DataDirecory is not a setting (did you mean DataDirectory?)" },
        { "a value of the wrong type", ["backup", "{out}", "--ApprovalBot:DataDirectory={data}", "--ApprovalBot:BusyTimeoutMs=lots"], "ApprovalBot:BusyTimeoutMs" },
        { "a value out of range", ["backup", "{out}", "--ApprovalBot:DataDirectory={data}", "--ApprovalBot:BusyTimeoutMs=-1"], "ApprovalBot:BusyTimeoutMs must be between 0 and 600000 (got -1)" },
        { "an empty data directory", ["backup", "{out}", "--ApprovalBot:DataDirectory="], "ApprovalBot:DataDirectory must name a folder" },
        // The configuration's command line dropped a key left without its value, or took the next key for it.
        { "a setting without its value, last", ["backup", "{out}", "--ApprovalBot:DataDirectory"], "--ApprovalBot:DataDirectory has no value (give it as --ApprovalBot:DataDirectory=<value>)" },
        { "a setting whose value is the next setting", ["restore", "{out}", "--ApprovalBot:DataDirectory", "--ApprovalBot:BusyTimeoutMs=5"], "--ApprovalBot:DataDirectory has no value" },
        { "a single-dash switch after the file", ["backup", "{out}", "-v"], "unexpected argument '-v'" },
        // The same for the service's own start: it stops with exit 2 before anything runs.
        { "the service's setting without its value, last", ["--ApprovalBot:Pipe:Name=x", "--ApprovalBot:DataDirectory"], "ApprovalBot: --ApprovalBot:DataDirectory has no value" },
        { "the service's setting whose value is the next setting", ["--ApprovalBot:DataDirectory", "--ApprovalBot:Pipe:Name=x"], "ApprovalBot: --ApprovalBot:DataDirectory has no value" },
        { "a single-dash setting for the service", ["-ApprovalBot:MaxBatch=5"], "ApprovalBot: unexpected argument '-ApprovalBot:MaxBatch=5'" },
        { "a single-dash switch for the service", ["--ApprovalBot:DataDirectory={data}", "-v"], "ApprovalBot: unexpected argument '-v'" },
        { "a restore with an unknown setting", ["restore", "{out}", "--ApprovalBot:Pipe:Nmae=x", "--ApprovalBot:DataDirectory={data}"], "ApprovalBot:Pipe:Nmae is not a setting" },
    };

    [Theory]
    [MemberData(nameof(BadCommandLines))]
    public async Task Run_BadCommandLine_ExitsTwoSaysWhyAndWritesNothing(string situation, string[] args, string error)
    {
        var data = _temp.Combine("data");
        await DraftFixtures.CreateStoreAsync(data, "reply:command:a");
        var output = _temp.Combine("out.db");
        var before = Directory.GetFileSystemEntries(_temp.Path, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();

        var (exit, stdout, stderr) = Run([.. args.Select(a => a.Replace("{data}", data, StringComparison.Ordinal).Replace("{out}", output, StringComparison.Ordinal))]);

        Assert.True(exit == StoreCommand.Usage, $"{situation}: exit {exit}, stderr: {stderr}");
        Assert.Contains(error, stderr, StringComparison.Ordinal);
        Assert.Equal("", stdout);
        Assert.Equal(before, Directory.GetFileSystemEntries(_temp.Path, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal));
    }

    /// <summary>Every bad setting at once, one a line, as the service's start lists them (<see cref="Hosting.StartupFailure.AsList"/>).</summary>
    [Fact]
    public void Run_SeveralBadSettings_ListsEachOnALineOfItsOwn()
    {
        var (exit, stdout, stderr) = Run("backup", _temp.Combine("out.db"), $"--ApprovalBot:DataDirectory={_temp.Combine("data")}",
            "--ApprovalBot:DataDirecory=x", "--ApprovalBot:BusyTimeoutMs=-1");

        Assert.Equal((StoreCommand.Usage, ""), (exit, stdout));
        var lines = stderr.TrimEnd('\n').Split('\n');
        Assert.Equal("ApprovalBot backup: the configuration is invalid:", lines[0]);
        Assert.Equal(2, lines.Length - 1);
        Assert.StartsWith("  - ApprovalBot:DataDirecory is not a setting", lines[1], StringComparison.Ordinal);
        Assert.Equal("  - ApprovalBot:BusyTimeoutMs must be between 0 and 600000 (got -1).", lines[2]);
    }

    /// <summary>
    /// The real program, beside a <c>config/appsettings.json</c> of its own that is not JSON: the runtime takes the folder of
    /// the program's real path as the application's, so the program is copied and the rest of this build linked.
    /// </summary>
    [Theory]
    [InlineData("backup")]
    [InlineData("restore")]
    public async Task Run_ConfigurationFileNotJson_ExitsTwoNamingTheFile(string verb)
    {
        var data = _temp.Combine("data");
        await DraftFixtures.CreateStoreAsync(data, "reply:command:a");
        var file = _temp.Combine("file.db");
        if (verb == "restore")
        {
            File.Copy(Path.Combine(data, "approvals.db"), file);
        }
        var (program, settings) = ProgramCopy.Create(_temp.Combine("app"), """{ "ApprovalBot": { "DataDirectory": "data", } oops""");
        var before = Directory.GetFileSystemEntries(data).Order(StringComparer.Ordinal).ToList();

        var (exitCode, stdout, stderr) = await RunProgramAsync(program, verb, verb == "backup" ? _temp.Combine("new.db") : file, $"--ApprovalBot:DataDirectory={data}");

        Assert.True(exitCode == StoreCommand.Usage, $"exit {exitCode}, stderr: {stderr}");
        Assert.StartsWith($"ApprovalBot {verb}: the configuration is invalid:\n  - Failed to load configuration from file '{settings}'.", stderr, StringComparison.Ordinal);
        Assert.Contains("LineNumber: 0", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", stderr, StringComparison.Ordinal);
        Assert.Equal("", stdout);
        Assert.False(File.Exists(_temp.Combine("new.db")));
        Assert.Equal(before, Directory.GetFileSystemEntries(data).Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// The real program beside a configuration file that gives a store setting a JSON null: said once, as having no value,
    /// not also as "must be between 1 and 10000 (got 0)" of a value nobody gave (the service's start said it once already).
    /// </summary>
    [Theory]
    [InlineData("\"MaxBatch\": null", "ApprovalBot:MaxBatch has no value (null in {file}): give it one, or leave the key out for its default.")]
    [InlineData("\"DataDirectory\": null", "ApprovalBot:DataDirectory has no value (null in {file}): give it one, or leave the key out for its default.")]
    [InlineData("\"Telegram\": null", "ApprovalBot:Telegram has no value (null in {file}): give the settings below it, or leave the key out for their defaults.")]
    public async Task Run_SettingNullInTheConfigurationFile_ExitsTwoSayingItHasNoValueOnce(string setting, string error)
    {
        var data = _temp.Combine("data");
        await DraftFixtures.CreateStoreAsync(data, "reply:command:a");
        var (program, settings) = ProgramCopy.Create(_temp.Combine("app"), $$"""{ "ApprovalBot": { {{setting}} } }""");

        string[] args = setting.StartsWith("\"DataDirectory\"", StringComparison.Ordinal) ? [] : [$"--ApprovalBot:DataDirectory={data}"];
        var (exitCode, stdout, stderr) = await RunProgramAsync([program, "backup", _temp.Combine("new.db"), .. args]);

        Assert.True(exitCode == StoreCommand.Usage, $"exit {exitCode}, stderr: {stderr}");
        Assert.Equal($"ApprovalBot backup: the configuration is invalid:\n  - {error.Replace("{file}", settings, StringComparison.Ordinal)}\n", stderr);
        Assert.Equal("", stdout);
        Assert.False(File.Exists(_temp.Combine("new.db")));
    }

    [Theory]
    [InlineData("backup")]
    [InlineData("restore")]
    public void Run_Help_PrintsTheUsageAndExitsZero(string verb)
    {
        var (exit, stdout, stderr) = Run(verb, "--help");

        Assert.Equal((StoreCommand.Done, ""), (exit, stderr));
        Assert.Contains("ApprovalBot backup <file>", stdout, StringComparison.Ordinal);
        Assert.Contains("ApprovalBot restore <file>", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_BackupThenRestore_SayWhatTheyDidAndExitZero()
    {
        var data = _temp.Combine("data");
        await DraftFixtures.CreateStoreAsync(data, "reply:command:a", "reply:command:b");
        var backup = _temp.Combine("backup.db");

        // The setting as two arguments, as the configuration's command line also reads it.
        var backedUp = Run("backup", backup, "--ApprovalBot:DataDirectory", data);
        var restored = Run("restore", backup, $"--ApprovalBot:DataDirectory={data}");

        Assert.Equal((StoreCommand.Done, ""), (backedUp.ExitCode, backedUp.Stderr));
        Assert.Matches($@"^backed up to {System.Text.RegularExpressions.Regex.Escape(backup)} \(2 drafts, seq up to 2, schema \d+, \d+ KB\) in \d+ ms\n$", backedUp.Stdout);
        Assert.Equal((StoreCommand.Done, ""), (restored.ExitCode, restored.Stderr));
        var lines = restored.Stdout.TrimEnd('\n').Split('\n');
        Assert.StartsWith($"restored {backup} (2 drafts, seq up to 2,", lines[0], StringComparison.Ordinal);
        Assert.EndsWith($"the next draft gets seq {2 + StoreRestore.CounterJump + 1}", lines[0], StringComparison.Ordinal);
        Assert.StartsWith($"the replaced store is kept in {data}/replaced-", lines[1], StringComparison.Ordinal);
        Assert.Equal("start the service to go on from the backup", lines[^1]);
    }

    [Fact]
    public async Task Run_Refused_ExitsOneWithTheReasonOnStderr()
    {
        var data = _temp.Combine("data");
        await DraftFixtures.CreateStoreAsync(data, "reply:command:a");
        var backup = _temp.Combine("backup.db");
        File.WriteAllText(backup, "an earlier file");

        var (exit, stdout, stderr) = Run("backup", backup, $"--ApprovalBot:DataDirectory={data}");

        Assert.Equal((StoreCommand.Failed, ""), (exit, stdout));
        Assert.Equal($"ApprovalBot backup: '{backup}' already exists; a backup never replaces a file.\n", stderr);
        Assert.Equal("an earlier file", File.ReadAllText(backup));
    }

    /// <summary>The real program (a copy beside its own configuration file) run with <paramref name="args"/>, to its exit.</summary>
    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunProgramAsync(params string[] args)
    {
        var info = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        using var process = System.Diagnostics.Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        return (process.ExitCode, await stdout, stderr);
    }
}
