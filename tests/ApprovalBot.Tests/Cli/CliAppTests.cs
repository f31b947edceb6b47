using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalBot.Cli;
using ApprovalBot.Client;

namespace ApprovalBot.Tests.Cli;

/// <summary>
/// approvalctl behaviour that needs no service: usage errors, local input checks, schema, unreachable service.
/// Service-backed cases live in the other part of this class.
/// </summary>
public sealed partial class CliAppTests
{
    // Nothing ever listens here; a connection attempt must fail as "unavailable", never reach a real service.
    private static string DeadPipe() => Path.Combine(Path.GetTempPath(), $"approvalctl-test-{Guid.NewGuid():N}.sock");

    [Fact]
    public async Task RunAsync_NoCommand_ExitsBadInput()
    {
        var run = await CliRunner.RunAsync();

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("error usage", run.Stderr);
    }

    [Fact]
    public async Task RunAsync_UnknownCommand_ExitsBadInput()
    {
        var run = await CliRunner.RunAsync("approve", "x");

        Assert.Equal(2, run.ExitCode);
    }

    [Fact]
    public async Task RunAsync_Help_ExitsOkAndListsCommands()
    {
        var run = await CliRunner.RunAsync("--help");

        Assert.Equal(0, run.ExitCode);
        foreach (var command in new[] { "submit", "get", "wait", "cancel", "list", "orphans", "stale", "ping", "schema" })
        {
            Assert.Contains(command, run.Stdout);
        }
    }

    [Theory]
    [InlineData("--kind", "reply", "--agent", "a", "--text", "t")]
    [InlineData("--id", "x", "--agent", "a", "--text", "t")]
    [InlineData("--id", "x", "--kind", "reply", "--text", "t")]
    public async Task Submit_MissingRequiredOption_ExitsBadInput(params string[] options)
    {
        var run = await CliRunner.RunAsync(["submit", "--pipe", DeadPipe(), .. options]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("error usage", run.Stderr);
    }

    [Theory]
    [InlineData("{")]
    [InlineData("not json")]
    [InlineData("")]
    public async Task Submit_ContextJsonNotJson_ExitsBadInputWithoutConnecting(string context)
    {
        var run = await CliRunner.RunAsync("submit", "--pipe", DeadPipe(), "--id", "x", "--kind", "reply", "--agent", "a", "--text", "t", "--context-json", context);

        // Exit 2, not 5: the dead pipe proves nothing was sent.
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("error usage (draft.context): --context-json is not valid JSON", run.Stderr);
    }

    [Theory]
    [InlineData("[1,2]", "array")]
    [InlineData("\"text\"", "string")]
    [InlineData("42", "number")]
    [InlineData("null", "null")]
    public async Task Submit_ContextJsonNotObject_ExitsBadInputWithoutConnecting(string context, string kind)
    {
        var run = await CliRunner.RunAsync("submit", "--pipe", DeadPipe(), "--id", "x", "--kind", "reply", "--agent", "a", "--text", "t", "--context-json", context);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains($"must be a JSON object, not {kind}", run.Stderr);
    }

    /// <summary>
    /// The same submit by the fast path (plain <c>--name value</c>) and by the full parser (<c>--id=x</c> is a shape only
    /// System.CommandLine reads), both against a pipe nothing listens on: an exit other than 5 shows nothing was sent.
    /// </summary>
    private static async Task<CliRun[]> SubmitBothPathsAsync(params string[] options) =>
    [
        await CliRunner.RunAsync(["submit", "--pipe", DeadPipe(), "--id", "x", "--kind", "reply", "--agent", "a", .. options]),
        await CliRunner.RunAsync(["submit", "--pipe", DeadPipe(), "--id=x", "--kind", "reply", "--agent", "a", .. options]),
    ];

    [Theory]
    [InlineData("submit", "--id", "x", "--kind", "reply", "--agent", "a", "--text", "t", "--context-json", "not json")]
    [InlineData("submit", "--id=x", "--kind", "reply", "--agent", "a", "--text", "t", "--context-json", "[1]")]
    [InlineData("submit", "--id", "x", "--kind", "reply", "--agent", "a", "--text", "t", "--text-file", "/nonexistent/file")]
    [InlineData("get")]
    [InlineData("wait", "x", "--timeout", "601")]
    [InlineData("list", "--limit", "0")]
    [InlineData("frobnicate")]
    public async Task Run_JsonWithBadInputCaughtBeforeSending_TheErrorOnStderrAsWithoutJsonAndNothingOnStdout(params string[] args)
    {
        // No answer from the service to print: stdout stays empty with --json too, and the error is said once, as text.
        var run = await CliRunner.RunAsync([.. args, "--json", "--pipe", DeadPipe()]);
        var plain = await CliRunner.RunAsync([.. args, "--pipe", DeadPipe()]);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Empty(run.Stdout);
        Assert.Equal(plain.Stderr, run.Stderr);
        // One error line, or for what the command-line parser finds, a line per problem and the hint (as the README says).
        var lines = run.Stderr.TrimEnd().Split(Environment.NewLine);
        Assert.All(lines[..^1], line => Assert.StartsWith("error usage", line, StringComparison.Ordinal));
        Assert.True(lines.Length == 1 ? lines[0].StartsWith("error usage", StringComparison.Ordinal) : lines[^1] == "Run 'approvalctl --help' for usage.", run.ToString());
        Assert.DoesNotContain("error unavailable", run.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "get" }, new[] { "error usage: Required argument 'id' missing for command: 'get'." })]
    [InlineData(new[] { "get", "x", "y" }, new[] { "error usage: Unrecognized command or argument 'y'." })]
    [InlineData(new[] { "frobnicate" }, new[] { "error usage: Required command was not provided.", "error usage: Unrecognized command or argument 'frobnicate'." })]
    public async Task Run_JsonUsageErrorTheParserFinds_ALinePerProblemThenTheHelpHintAndNothingOnStdout(string[] args, string[] errors)
    {
        var run = await CliRunner.RunAsync(["--json", .. args, "--pipe", DeadPipe()]);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Empty(run.Stdout);
        Assert.Equal([.. errors, "Run 'approvalctl --help' for usage."], run.Stderr.TrimEnd().Split(Environment.NewLine));
    }

    [Theory]
    [InlineData("""{"a":1,"a":2}""", "'a' twice in $")]
    [InlineData("""{"o":{"k":1,"\u006b":2}}""", "'k' twice in $.o")]
    [InlineData("""{"list":[{},{"x\ny":1,"x\ny":2}]}""", "'x\\ny' twice in $.list[1]")]
    public async Task Submit_ContextJsonDuplicateKey_ExitsBadInputNamingTheKeyByEitherPath(string context, string where)
    {
        foreach (var run in await SubmitBothPathsAsync("--text", "t", "--context-json", context))
        {
            Assert.True(run.ExitCode == 2, run.ToString());
            Assert.Equal($"error usage (draft.context): --context-json has the key {where}; a key may appear once per object", run.Stderr.TrimEnd());
        }
    }

    [Theory]
    [InlineData("""{"rationale":"\ud800"}""", "the string at $.rationale")]
    [InlineData("""{"r":"low first \udc00\ud800"}""", "the string at $.r")]
    [InlineData("""{"a":[1,{"b":"x\udfff"}]}""", "the string at $.a[1].b")]
    [InlineData("""{"\ud83d":"a key"}""", "a key in $")]
    [InlineData("""{"o":{"\ude00x":1}}""", "a key in $.o")]
    public async Task Submit_ContextJsonUnpairedSurrogateEscape_ExitsBadInputByEitherPathWithoutConnecting(string context, string where)
    {
        foreach (var run in await SubmitBothPathsAsync("--text", "t", "--context-json", context))
        {
            // Exit 2, not 1 (the request could not be written) nor 5 (sent to the dead pipe).
            Assert.True(run.ExitCode == 2, run.ToString());
            Assert.Equal($"error usage (draft.context): --context-json is not valid Unicode text: {where} has an unpaired surrogate escape (\\ud800-\\udfff without its pair)", run.Stderr.TrimEnd());
        }
    }

    /// <summary>A context of <paramref name="depth"/> levels: an object holding nested arrays, the innermost holding 1.</summary>
    private static string NestedContext(int depth) => "{\"a\":" + new string('[', depth - 1) + "1" + new string(']', depth - 1) + "}";

    [Theory]
    [InlineData(62)]
    [InlineData(64)]
    [InlineData(65)]
    [InlineData(5000)]
    public async Task Submit_ContextJsonNestedDeeperThanTheServiceTakes_ExitsBadInputByEitherPathWithoutConnecting(int depth)
    {
        foreach (var run in await SubmitBothPathsAsync("--text", "t", "--context-json", NestedContext(depth)))
        {
            // Exit 2 against a pipe nothing listens on: refused before connecting, in the service's words (beyond 64
            // levels the parser's own limit called it not JSON).
            Assert.True(run.ExitCode == 2, run.ToString());
            Assert.Equal($"error usage (draft.context): --context-json must nest at most 61 levels of objects and arrays, itself included (it nests {depth})", run.Stderr.TrimEnd());
        }
    }

    [Fact]
    public async Task Submit_ContextJsonNested61Levels_PassesTheCheck()
    {
        foreach (var run in await SubmitBothPathsAsync("--text", "t", "--context-json", NestedContext(61)))
        {
            Assert.True(run.ExitCode == 5, run.ToString());
        }
    }

    [Fact]
    public async Task Submit_ContextJsonNotJsonAndDeep_SaidNotJson()
    {
        foreach (var run in await SubmitBothPathsAsync("--text", "t", "--context-json", NestedContext(70)[..^3]))
        {
            Assert.True(run.ExitCode == 2, run.ToString());
            Assert.StartsWith("error usage (draft.context): --context-json is not valid JSON", run.Stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Submit_ContextJsonSurrogatePairEscape_Accepted()
    {
        // A pair is one character (😀): passes the check and goes on to the (dead) pipe.
        foreach (var run in await SubmitBothPathsAsync("--text", "t", "--context-json", """{"e":"\ud83d\ude00","\ud83d\ude00":1}"""))
        {
            Assert.True(run.ExitCode == 5, run.ToString());
        }
    }

    private static byte[] Utf8(string text) => System.Text.Encoding.UTF8.GetBytes(text);

    public static TheoryData<string, byte[], string> ArgumentsNotUtf8 => new()
    {
        { "--text", [(byte)'a', (byte)'b', 0xFF, (byte)'c', (byte)'d'], "error usage (draft.text): --text is not valid UTF-8 (byte offset 2); the text must be UTF-8" },
        // A valid U+FFFD (EF BF BD) before the bad byte: the offset is that of the bad byte.
        { "--text", [0xEF, 0xBF, 0xBD, (byte)'x', 0xC3, (byte)'('], "error usage (draft.text): --text is not valid UTF-8 (byte offset 4); the text must be UTF-8" },
        { "--agent", [0xFE], "error usage (draft.agent): --agent is not valid UTF-8 (byte offset 0); command-line values must be UTF-8" },
        { "--id", [(byte)'r', 0xED, 0xA0, 0x80], "error usage (draft.id): --id is not valid UTF-8 (byte offset 1); command-line values must be UTF-8" },
        { "--kind", [(byte)'r', (byte)'e', 0x80], "error usage: --kind is not valid UTF-8 (byte offset 2); command-line values must be UTF-8" },
        { "--context-json", [.. "{\"a\":\""u8, 0xE9, .. "\"}"u8], "error usage (draft.context): --context-json is not valid UTF-8 (byte offset 6); command-line values must be UTF-8" },
        { "--text-file", [(byte)'/', (byte)'t', 0xE9], "error usage (draft.text): --text-file is not valid UTF-8 (byte offset 2); give a UTF-8 path, or the text on stdin" },
    };

    [Theory]
    [MemberData(nameof(ArgumentsNotUtf8))]
    public async Task Submit_ArgumentNotUtf8_ExitsBadInputNamingTheOptionByEitherPathWithoutConnecting(string option, byte[] value, string error)
    {
        var others = new Dictionary<string, string> { ["--id"] = "x", ["--kind"] = "reply", ["--agent"] = "a", ["--text"] = "t" };
        if (option == "--text-file")
        {
            others.Remove("--text");
        }
        others.Remove(option);
        byte[][] rest = [.. others.SelectMany(o => new[] { Utf8(o.Key), Utf8(o.Value) })];

        var fast = await CliRunner.RunWithArgumentBytesAsync([Utf8("submit"), Utf8("--pipe"), Utf8(DeadPipe()), .. rest, Utf8(option), value]);
        var full = await CliRunner.RunWithArgumentBytesAsync([Utf8("submit"), Utf8("--pipe"), Utf8(DeadPipe()), .. rest, [.. Utf8(option + "="), .. value]]);

        foreach (var run in new[] { fast, full })
        {
            Assert.True(run.ExitCode == 2, run.ToString());
            Assert.Equal(error, run.Stderr.TrimEnd());
        }
    }

    [Fact]
    public async Task List_BeforeNotUtf8_ExitsBadInputNamingTheOption()
    {
        var run = await CliRunner.RunWithArgumentBytesAsync(Utf8("list"), Utf8("--before"), [0xFF], Utf8("--pipe"), Utf8(DeadPipe()));

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Equal("error usage: --before is not valid UTF-8 (byte offset 0); command-line values must be UTF-8", run.Stderr.TrimEnd());
    }

    /// <summary>
    /// The draft id of every command that takes one is named as the id, as the service names a bad id (<c>(id)</c>),
    /// wherever it stands among the options; not by its position ("argument 2").
    /// </summary>
    [Theory]
    [InlineData("get {id} --pipe {pipe}", 1)]
    [InlineData("wait {id} --timeout 1 --pipe {pipe}", 1)]
    [InlineData("cancel {id} --reason gone --pipe {pipe}", 1)]
    [InlineData("--pipe {pipe} --json get {id}", 1)]
    [InlineData("wait --final --timeout=5 {id} --pipe {pipe}", 1)]
    [InlineData("cancel --reason gone --pipe {pipe} -- {id}", 1)]
    public async Task IdNotUtf8_ExitsBadInputNamingTheIdWithoutConnecting(string command, int offset)
    {
        var pipe = DeadPipe();
        byte[][] args = [.. command.Split(' ').Select(arg => arg switch
        {
            "{id}" => [(byte)'r', 0xFF, (byte)'x'],
            "{pipe}" => Utf8(pipe),
            _ => Utf8(arg),
        })];

        var run = await CliRunner.RunWithArgumentBytesAsync(args);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Equal($"error usage (id): id is not valid UTF-8 (byte offset {offset}); command-line values must be UTF-8", run.Stderr.TrimEnd());
        Assert.Empty(run.Stdout);
    }

    [Fact]
    public async Task ArgumentNotUtf8ThatIsNoId_ExitsBadInputNamingItsPosition()
    {
        var run = await CliRunner.RunWithArgumentBytesAsync(Utf8("get"), Utf8("a"), [(byte)'b', 0xFF], Utf8("--pipe"), Utf8(DeadPipe()));

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Equal("error usage: argument 3 is not valid UTF-8 (byte offset 1); command-line values must be UTF-8", run.Stderr.TrimEnd());
    }

    /// <summary>A reason that is not UTF-8 is refused before anything is sent (exit 2, not the dead pipe's 5), given either way.</summary>
    [Theory]
    [InlineData(new byte[] { (byte)'g', (byte)'o', 0xFF, (byte)'n', (byte)'e' }, 2)]
    [InlineData(new byte[] { 0xEF, 0xBF, 0xBD, 0xC3, (byte)'(' }, 3)]
    public async Task Cancel_ReasonNotUtf8_ExitsBadInputNamingTheOptionWithoutConnecting(byte[] value, int offset)
    {
        var apart = await CliRunner.RunWithArgumentBytesAsync(Utf8("cancel"), Utf8("reply:a"), Utf8("--pipe"), Utf8(DeadPipe()), Utf8("--reason"), value);
        var joined = await CliRunner.RunWithArgumentBytesAsync(Utf8("cancel"), Utf8("reply:a"), Utf8("--pipe"), Utf8(DeadPipe()), [.. Utf8("--reason="), .. value]);

        foreach (var run in new[] { apart, joined })
        {
            Assert.True(run.ExitCode == 2, run.ToString());
            Assert.Equal($"error usage (reason): --reason is not valid UTF-8 (byte offset {offset}); command-line values must be UTF-8", run.Stderr.TrimEnd());
            Assert.Empty(run.Stdout);
        }
    }

    [Fact]
    public async Task Cancel_IdNotUtf8_ExitsBadInputNamingTheId()
    {
        var run = await CliRunner.RunWithArgumentBytesAsync(Utf8("cancel"), [(byte)'r', 0xC0, 0xAF], Utf8("--reason"), Utf8("gone"), Utf8("--pipe"), Utf8(DeadPipe()));

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Equal("error usage (id): id is not valid UTF-8 (byte offset 1); command-line values must be UTF-8", run.Stderr.TrimEnd());
    }

    [Fact]
    public async Task Submit_ReplacementCharacterGivenAsUtf8_NotRefused()
    {
        // EF BF BD is U+FFFD itself, valid UTF-8: the run goes on to the (dead) pipe.
        var run = await CliRunner.RunWithArgumentBytesAsync(Utf8("submit"), Utf8("--pipe"), Utf8(DeadPipe()), Utf8("--id"), Utf8("x"), Utf8("--kind"), Utf8("reply"),
            Utf8("--agent"), Utf8("a\uFFFD"), Utf8("--text"), Utf8("ab\uFFFDcd"));

        Assert.True(run.ExitCode == 5, run.ToString());
    }

    [Fact]
    public async Task Submit_TextAndTextFile_ExitsBadInput()
    {
        var file = Path.GetTempFileName();
        try
        {
            var run = await CliRunner.RunAsync("submit", "--pipe", DeadPipe(), "--id", "x", "--kind", "reply", "--agent", "a", "--text", "t", "--text-file", file);

            Assert.True(run.ExitCode == 2, run.ToString());
            Assert.Contains("not both", run.Stderr);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData("missing.txt", "no such file or directory")]
    [InlineData("no-dir/missing.txt", "no such file or directory")]
    [InlineData("file.txt/below", "no such file or directory")]
    [InlineData("dir", "is a directory")]
    [InlineData("loop", "too many levels of symbolic links")]
    [InlineData("socket", "no such device or address")]
    public async Task Submit_TextFileUnreadable_ExitsBadInputSayingWhyInWords(string name, string why)
    {
        using var dir = new ApprovalBot.Tests.Infrastructure.TempDirectory();
        await File.WriteAllTextAsync(dir.Combine("file.txt"), "t");
        Directory.CreateDirectory(dir.Combine("dir"));
        File.CreateSymbolicLink(dir.Combine("loop"), dir.Combine("loop"));
        // Kept open: disposing a bound socket removes its file.
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        socket.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(dir.Combine("socket")));
        var path = dir.Combine(name);

        foreach (var run in await SubmitBothPathsAsync("--text-file", path))
        {
            // Words, not the runtime's resource keys (IO_PathNotFound_Path, UnauthorizedAccess_IODenied_Path).
            Assert.True(run.ExitCode == 2, run.ToString());
            Assert.Equal($"error usage (draft.text): cannot read --text-file '{path}': {why}", run.Stderr.TrimEnd());
        }
    }

    [Fact]
    public async Task Submit_TextFileEmptyPath_ExitsBadInput()
    {
        foreach (var run in await SubmitBothPathsAsync("--text-file", ""))
        {
            // Was exit 1: "error internal: ArgumentException: Argument_EmptyString".
            Assert.True(run.ExitCode == 2, run.ToString());
            Assert.Equal("error usage (draft.text): --text-file is empty: give the path of a file", run.Stderr.TrimEnd());
        }
    }

    [Fact]
    public async Task Submit_TextFileLongPathWithLineBreak_QuotedOnOneLineAndShortened()
    {
        var path = "/nonexistent/" + new string('a', 300) + "\nend";

        foreach (var run in await SubmitBothPathsAsync("--text-file", path))
        {
            Assert.True(run.ExitCode == 2, run.ToString());
            var line = Assert.Single(run.Stderr.TrimEnd().Split('\n'));
            Assert.EndsWith("aaaa\\nend (317 characters)': no such file or directory", line);
            Assert.True(line.Length < 300, line);
        }
    }

    [Theory]
    [InlineData("submit", "--pipe", "", "--id", "x", "--kind", "reply", "--agent", "a", "--text", "t")]
    [InlineData("submit", "--id=x", "--pipe", "", "--kind", "reply", "--agent", "a", "--text", "t")]
    [InlineData("--pipe", "", "submit", "--id", "x", "--kind", "reply", "--agent", "a", "--text", "t")]
    [InlineData("ping", "--pipe", "")]
    [InlineData("get", "x", "--pipe", "")]
    public async Task Run_EmptyPipe_ExitsBadInputNotTheDefaultPipe(params string[] args)
    {
        var run = await CliRunner.RunAsync(args);

        // Was the default pipe: exit 5 with none running, or a service the caller did not name.
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.StartsWith("error usage: --pipe must not be empty", run.Stderr);
    }

    /// <summary>A --pipe of only spaces names no pipe either: it went to the service as a name, and came back as "not running" (exit 5).</summary>
    [Theory]
    [InlineData("submit", "--pipe", "  ", "--id", "x", "--kind", "reply", "--agent", "a", "--text", "t")]
    [InlineData("submit", "--id=x", "--pipe", " ", "--kind", "reply", "--agent", "a", "--text", "t")]
    [InlineData("ping", "--pipe", "\t")]
    [InlineData("get", "x", "--pipe=  ")]
    public async Task Run_BlankPipe_ExitsBadInputNotUnavailable(params string[] args)
    {
        var run = await CliRunner.RunAsync(args);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.StartsWith("error usage: --pipe must not be empty", run.Stderr);
        Assert.Empty(run.Stdout);
    }

    [Theory]
    [InlineData("./p.sock", "submit", "--pipe", "./p.sock", "--id", "x", "--kind", "reply", "--agent", "a", "--text", "t")]
    [InlineData("run/p.sock", "--pipe", "run/p.sock", "submit", "--id", "x", "--kind", "reply", "--agent", "a", "--text", "t")]
    [InlineData("./p.sock", "submit", "--id=x", "--pipe", "./p.sock", "--kind", "reply", "--agent", "a", "--text", "t")]
    [InlineData("../p.sock", "ping", "--pipe", "../p.sock")]
    [InlineData("./p.sock", "get", "x", "--pipe=./p.sock", "--json")]
    public async Task Run_RelativePipePath_ExitsBadInputNamingTheAbsolutePath(string pipe, params string[] args)
    {
        var run = await CliRunner.RunAsync(args);

        // Was exit 5: "the service is not running on pipe './p.sock': no socket file at '/tmp/CoreFxPipe_./p.sock'", also
        // while a service served ./p.sock. The service refuses such a Pipe:Name too.
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.StartsWith($"error usage: --pipe '{pipe}' is a relative path: give a pipe name or an absolute socket path (here '{Path.GetFullPath(pipe)}').", run.Stderr);
        Assert.Empty(run.Stdout);
    }

    [Fact]
    public async Task Run_ParseErrorQuotingALineBreak_EachErrorOnOneLine()
    {
        var run = await CliRunner.RunAsync("get", "a", "b\nc\r\u2028d", "--pipe", DeadPipe());

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Equal(["error usage: Unrecognized command or argument 'b\\nc\\r\\u2028d'.", "Run 'approvalctl --help' for usage."],
            run.Stderr.TrimEnd().Split(Environment.NewLine));
    }

    [Theory]
    [InlineData("a repeated option", "expects a single argument", "submit", "--id", "x", "--kind", "reply", "--agent", "a", "--text", "t", "--text", "u")]
    [InlineData("an unknown option", "Unrecognized command or argument '--bogus'", "submit", "--id", "x", "--kind", "reply", "--agent", "a", "--text", "t", "--bogus")]
    [InlineData("extra arguments", "Unrecognized command or argument 'extra2'", "submit", "--id", "x", "--kind", "reply", "--agent", "a", "--text", "t", "extra1", "extra2")]
    [InlineData("get without an id", "Required argument 'id' missing", "get")]
    [InlineData("wait without an id", "Required argument 'id' missing", "wait")]
    [InlineData("cancel without an id", "Required argument 'id' missing", "cancel")]
    [InlineData("cancel without an id, a reason given", "Required argument 'id' missing", "cancel", "--reason", "gone")]
    [InlineData("cancel with two ids", "Unrecognized command or argument 'reply:b'", "cancel", "reply:a", "reply:b")]
    [InlineData("cancel with a reason twice", "expects a single argument", "cancel", "reply:a", "--reason", "a", "--reason", "b")]
    [InlineData("cancel with an unknown option", "Unrecognized command or argument '--force'", "cancel", "reply:a", "--force")]
    public async Task Run_BadShape_ExitsBadInputWithoutConnecting(string what, string error, params string[] args)
    {
        var run = await CliRunner.RunAsync([.. args, "--pipe", DeadPipe()]);

        Assert.True(run.ExitCode == 2, $"{what}: {run}");
        Assert.StartsWith("error usage: ", run.Stderr);
        Assert.Contains(error, run.Stderr);
        Assert.Empty(run.Stdout);
    }

    /// <summary>
    /// An empty text is refused here, however it came, before anything is sent (the dead pipe proves it): an empty stdin
    /// was, but an empty --text-file, a stdin or file of only a byte order mark, and an empty --text went to the service.
    /// </summary>
    [Theory]
    [InlineData("an empty --text", "--text", "", "--text is empty")]
    [InlineData("an empty --text-file", "--text-file", "{empty}", "--text-file '{empty}' is empty")]
    [InlineData("a --text-file of only a byte order mark", "--text-file", "{bom}", "--text-file '{bom}' is empty")]
    [InlineData("a stdin of only a byte order mark", null, null, "stdin is empty")]
    public async Task Submit_EmptyText_ExitsBadInputWithoutConnecting(string what, string? option, string? value, string error)
    {
        using var dir = new ApprovalBot.Tests.Infrastructure.TempDirectory();
        var empty = dir.Combine("empty.txt");
        var bom = dir.Combine("bom.txt");
        await File.WriteAllBytesAsync(empty, []);
        await File.WriteAllBytesAsync(bom, [0xEF, 0xBB, 0xBF]);
        string Fill(string s) => s.Replace("{empty}", empty, StringComparison.Ordinal).Replace("{bom}", bom, StringComparison.Ordinal);
        string[] args = option is null ? [] : [option, Fill(value!)];

        foreach (var run in new[]
                 {
                     await CliRunner.RunWithStdinBytesAsync([0xEF, 0xBB, 0xBF], ["submit", "--pipe", DeadPipe(), "--id", "x", "--kind", "reply", "--agent", "a", .. args]),
                     await CliRunner.RunWithStdinBytesAsync([0xEF, 0xBB, 0xBF], ["submit", "--pipe", DeadPipe(), "--id=x", "--kind", "reply", "--agent", "a", .. args]),
                 })
        {
            Assert.True(run.ExitCode == 2, $"{what}: {run}");
            Assert.Equal($"error usage (draft.text): {Fill(error)}: a draft needs a text (pass --text, --text-file, or pipe the text on stdin)", run.Stderr.TrimEnd());
        }
    }

    /// <summary>
    /// More text than the service accepts in any request (its largest Pipe:MaxLineBytes, 64 MiB) is refused here, read in
    /// bounded pieces: an endless stdin ends the run, and a file larger than 2 GiB is refused, not an internal error.
    /// </summary>
    [Fact]
    public async Task Submit_StdinLargerThanAnyRequest_ExitsBadInputAfterReadingAtMostTheLimit()
    {
        Assert.Equal(ApprovalBot.Pipe.AgentPipeOptionsValidator.LargestMaxLineBytes, SubmitInput.MaxTextBytes);
        using var stdin = new EndlessStream();
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exit = await CliApp.RunAsync(["submit", "--pipe", DeadPipe(), "--id", "x", "--kind", "reply", "--agent", "a"], stdin, output, error, commandLine: null);

        Assert.True(exit == 2, error.ToString());
        Assert.Equal("error usage (draft.text): stdin is larger than 67108864 bytes (64 MiB), more than the service accepts in a request", error.ToString().TrimEnd());
        Assert.InRange(stdin.BytesRead, SubmitInput.MaxTextBytes, SubmitInput.MaxTextBytes + 1024 * 1024);
    }

    [Theory]
    [InlineData(64L * 1024 * 1024 + 1)]
    [InlineData(3L * 1024 * 1024 * 1024)]
    public async Task Submit_TextFileLargerThanAnyRequest_ExitsBadInputWithoutConnecting(long size)
    {
        using var dir = new ApprovalBot.Tests.Infrastructure.TempDirectory();
        var file = dir.Combine("big.txt");
        using (var sparse = File.Create(file))
        {
            sparse.SetLength(size);
        }

        foreach (var run in await SubmitBothPathsAsync("--text-file", file))
        {
            Assert.True(run.ExitCode == 2, run.ToString());
            Assert.Equal($"error usage (draft.text): --text-file '{file}' is larger than 67108864 bytes (64 MiB), more than the service accepts in a request", run.Stderr.TrimEnd());
        }
    }

    /// <summary>
    /// Input that is not text is named so at its first bad byte however much of it there is: read in pieces, each
    /// checked as it comes, so a huge binary file, an endless stdin or a FIFO fed without end is not called too large.
    /// </summary>
    [Theory]
    [InlineData(0, 0)]
    [InlineData(100_000, 100_000)]
    public async Task Submit_StdinEndlessAndNotUtf8_ExitsBadInputAtTheFirstBadByteWithoutReadingOn(int goodBytes, int offset)
    {
        using var stdin = new EndlessStream(goodBytes, fill: 0xFF);
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exit = await CliApp.RunAsync(["submit", "--pipe", DeadPipe(), "--id", "x", "--kind", "reply", "--agent", "a"], stdin, output, error, commandLine: null);

        Assert.True(exit == 2, error.ToString());
        Assert.Equal($"error usage (draft.text): stdin is not valid UTF-8 (byte offset {offset}); the text must be UTF-8", error.ToString().TrimEnd());
        Assert.InRange(stdin.BytesRead, offset + 1, offset + 1024 * 1024);
    }

    /// <summary>
    /// A file larger than any request whose bytes are not UTF-8: named as not UTF-8, at the first bad byte, also where a
    /// character is cut by the end of a piece read (the é at 81919 must not be taken for a bad byte).
    /// </summary>
    [Theory]
    [InlineData(0, 2)]
    [InlineData(81_919, 81_921)]
    public async Task Submit_TextFileLargerThanAnyRequestAndNotUtf8_ExitsBadInputNamingTheOffset(int at, int offset)
    {
        using var dir = new ApprovalBot.Tests.Infrastructure.TempDirectory();
        var file = dir.Combine("binary.bin");
        using (var sparse = File.Create(file))
        {
            sparse.SetLength(65L * 1024 * 1024);
            sparse.Position = at;
            sparse.Write([0xC3, 0xA9, 0xFF]);
        }

        foreach (var run in await SubmitBothPathsAsync("--text-file", file))
        {
            Assert.True(run.ExitCode == 2, run.ToString());
            Assert.Equal($"error usage (draft.text): --text-file '{file}' is not valid UTF-8 (byte offset {offset}); the text must be UTF-8", run.Stderr.TrimEnd());
        }
    }

    [Fact]
    public async Task Submit_TextFileAFifoFedBytesThatAreNotUtf8WithoutEnd_ExitsBadInputAtTheFirstBadByte()
    {
        using var dir = new ApprovalBot.Tests.Infrastructure.TempDirectory();
        var fifo = dir.Combine("endless");
        await ApprovalBot.Tests.Infrastructure.ChildProcess.RunToEndAsync("python3", ["-c", "import os,sys; os.mkfifo(sys.argv[1])", fifo]);
        // Writes 0xFF until the reader closes its end (the write then fails: the runtime ignores SIGPIPE).
        var writer = Task.Run(async () =>
        {
            var written = 0L;
            try
            {
                await using var stream = new FileStream(fifo, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1);
                var block = Enumerable.Repeat((byte)0xFF, 65_536).ToArray();
                while (true)
                {
                    await stream.WriteAsync(block);
                    written += block.Length;
                }
            }
            catch (IOException)
            {
                return written;
            }
        });

        var run = await CliRunner.RunAsync("submit", "--pipe", DeadPipe(), "--id", "x", "--kind", "reply", "--agent", "a", "--text-file", fifo);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Equal($"error usage (draft.text): --text-file '{fifo}' is not valid UTF-8 (byte offset 0); the text must be UTF-8", run.Stderr.TrimEnd());
        Assert.InRange(await writer.WaitAsync(TimeSpan.FromMinutes(1)), 0, 1024 * 1024);
    }

    /// <summary>Bytes without end (<paramref name="goodBytes"/> of 'a', then <paramref name="fill"/>), counting how many were read.</summary>
    private sealed class EndlessStream(int goodBytes = 0, byte fill = (byte)'a') : Stream
    {
        public long BytesRead { get; private set; }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count)
        {
            for (var i = 0; i < count; i++)
            {
                buffer[offset + i] = BytesRead + i < goodBytes ? (byte)'a' : fill;
            }
            BytesRead += count;
            return count;
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public async Task Submit_EmptyStdin_ExitsBadInput()
    {
        var run = await CliRunner.RunWithStdinAsync("", "submit", "--pipe", DeadPipe(), "--id", "x", "--kind", "reply", "--agent", "a");

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Equal("error usage (draft.text): stdin is empty: a draft needs a text (pass --text, --text-file, or pipe the text on stdin)", run.Stderr.TrimEnd());
    }

    public static TheoryData<byte[], int> NotUtf8 => new()
    {
        { [(byte)'a', (byte)'b', 0xFF, (byte)'c'], 2 },
        { [0xC3, (byte)'(', (byte)'x'], 0 },
        { [(byte)'o', (byte)'k', 0xE2, 0x82], 2 },
        { [0xEF, 0xBB, 0xBF, (byte)'x', 0xED, 0xA0, 0x80], 4 },
        // UTF-16 with its byte order mark is not taken for UTF-8.
        { [0xFF, 0xFE, (byte)'h', 0, (byte)'i', 0], 0 },
    };

    [Theory]
    [MemberData(nameof(NotUtf8))]
    public async Task Submit_TextFileNotUtf8_ExitsBadInputNamingTheOffsetWithoutConnecting(byte[] bytes, int offset)
    {
        using var dir = new ApprovalBot.Tests.Infrastructure.TempDirectory();
        var file = dir.Combine("latin1.txt");
        await File.WriteAllBytesAsync(file, bytes);

        var fast = await CliRunner.RunAsync("submit", "--pipe", DeadPipe(), "--id", "x", "--kind", "reply", "--agent", "a", "--text-file", file);
        var full = await CliRunner.RunAsync("submit", "--pipe", DeadPipe(), "--id=x", "--kind", "reply", "--agent", "a", "--text-file", file);

        foreach (var run in new[] { fast, full })
        {
            // Exit 2, not 5: the dead pipe proves nothing was sent.
            Assert.True(run.ExitCode == 2, run.ToString());
            Assert.Equal($"error usage (draft.text): --text-file '{file}' is not valid UTF-8 (byte offset {offset}); the text must be UTF-8", run.Stderr.TrimEnd());
        }
    }

    [Theory]
    [MemberData(nameof(NotUtf8))]
    public async Task Submit_StdinNotUtf8_ExitsBadInputWithoutConnecting(byte[] bytes, int offset)
    {
        var run = await CliRunner.RunWithStdinBytesAsync(bytes, "submit", "--pipe", DeadPipe(), "--id", "x", "--kind", "reply", "--agent", "a");

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Equal($"error usage (draft.text): stdin is not valid UTF-8 (byte offset {offset}); the text must be UTF-8", run.Stderr.TrimEnd());
    }

    [Fact]
    public async Task Submit_ResponseFileToken_UnexpectedArgumentNotExpanded()
    {
        using var dir = new ApprovalBot.Tests.Infrastructure.TempDirectory();
        var file = dir.Combine("args.rsp");
        await File.WriteAllTextAsync(file, "--text from-the-file");

        var run = await CliRunner.RunAsync("submit", "--pipe", DeadPipe(), "--id", "x", "--kind", "reply", "--agent", "a", "@" + file);

        // Expanded, the file would have supplied the text and the run would have tried the (dead) service: exit 5.
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("@" + file, run.Stderr);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("-5")]
    [InlineData("601")]
    [InlineData("soon")]
    [InlineData("1e3")]
    [InlineData("99999999999")]
    public async Task Wait_TimeoutOutOfRange_ExitsBadInput(string timeout)
    {
        var run = await CliRunner.RunAsync("wait", "x", "--pipe", DeadPipe(), "--timeout", timeout);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.StartsWith($"error usage: --timeout must be a whole number 0-600, not '{timeout}'.", run.Stderr);
    }

    [Theory]
    [InlineData("--state", "bogus")]
    [InlineData("--limit", "0")]
    [InlineData("--limit", "1001")]
    [InlineData("--limit", "5x")]
    [InlineData("--limit", "99999999999")]
    [InlineData("--limit", "-5")]
    public async Task List_BadFilter_ExitsBadInput(string option, string value)
    {
        var run = await CliRunner.RunAsync("list", "--pipe", DeadPipe(), option, value);

        Assert.True(run.ExitCode == 2, run.ToString());
    }

    [Theory]
    [InlineData("bogus")]
    [InlineData("Carded")]
    [InlineData("")]
    public async Task List_StateNotADraftState_OneReadableLineNamingTheStates(string state)
    {
        var run = await CliRunner.RunAsync("list", "--pipe", DeadPipe(), "--state", state);

        // Was the parser's "Argument 'bogus' not recognized. Must be one of:\n\t'pending'\n\t'carded'…", its line breaks
        // and tabs printed as \n\t escapes to keep the error on one line.
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Equal(
            [$"error usage: --state must be a draft state: pending, carded, approved, rejected, expired, cancelled, executing, executed, failed, blocked or unknown, not '{state}'.",
             "Run 'approvalctl --help' for usage."],
            run.Stderr.TrimEnd().Split(Environment.NewLine));
        Assert.Empty(run.Stdout);
    }

    [Fact]
    public async Task ListHelp_NamesEveryState()
    {
        var run = await CliRunner.RunAsync("list", "--help");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("--state <approved|blocked|cancelled|carded|executed|executing|expired|failed|pending|rejected|unknown>", run.Stdout);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("soon")]
    [InlineData("1.5")]
    [InlineData("1e3")]
    [InlineData("")]
    [InlineData("9223372036854775808")]
    public async Task List_BeforeNotASeq_ExitsBadInputSayingWhatItTakes(string before)
    {
        var run = await CliRunner.RunAsync("list", "--pipe", DeadPipe(), "--before", before);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.StartsWith($"error usage: --before must be a draft seq, a whole number 1 or more, not '{before}'.", run.Stderr);
        Assert.Empty(run.Stdout);
    }

    [Fact]
    public async Task Ping_NoServiceOnSocketPath_ExitsUnavailable()
    {
        var run = await CliRunner.RunAsync("ping", "--pipe", DeadPipe());

        Assert.True(run.ExitCode == 5, run.ToString());
        Assert.StartsWith("error unavailable:", run.Stderr);
        Assert.Empty(run.Stdout);
    }

    [Fact]
    public async Task Submit_NoServiceOnSocketPath_ExitsUnavailable()
    {
        var run = await CliRunner.RunAsync("submit", "--pipe", DeadPipe(), "--id", "x", "--kind", "reply", "--agent", "a", "--text", "t");

        Assert.True(run.ExitCode == 5, run.ToString());
    }

    [Fact]
    public async Task Schema_NoService_PrintsSubmitRequestSchema()
    {
        var run = await CliRunner.RunAsync("schema", "--pipe", DeadPipe());

        Assert.True(run.ExitCode == 0, run.ToString());
        var schema = JsonNode.Parse(run.Stdout)!.AsObject();
        Assert.Equal("object", (string?)schema["type"]);
        Assert.False((bool)schema["additionalProperties"]!);
        Assert.Equal(["draft"], schema["required"]!.AsArray().Select(n => (string)n!));
        Assert.Equal("submit", (string?)schema["properties"]!["op"]!["const"]);

        var draft = schema["properties"]!["draft"]!.AsObject();
        Assert.False((bool)draft["additionalProperties"]!);
        Assert.Equal(ProtocolJson.IdPattern, (string?)draft["properties"]!["id"]!["pattern"]);
        var required = draft["required"]!.AsArray().Select(n => (string)n!).ToHashSet();
        Assert.Superset(new HashSet<string> { "id", "kind", "agent", "text" }, required);
        Assert.DoesNotContain("context", required);
    }

    [Fact]
    public async Task Schema_Json_PrintsOneLine()
    {
        var run = await CliRunner.RunAsync("schema", "--json");

        Assert.Equal(0, run.ExitCode);
        var line = Assert.Single(run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        using var document = JsonDocument.Parse(line);
        Assert.Contains("\"additionalProperties\":false", line);
    }
}
