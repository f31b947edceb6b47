using System.Text;
using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Pipe;
using ApprovalBot.Reconciliation;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalBot.Tests.Cli;

/// <summary>approvalctl against the real service, started in-process by <see cref="TestHost"/>.</summary>
public sealed partial class CliAppTests
{
    private const string Kind = "reply";

    private static string NewId() => $"cli:{Guid.NewGuid():N}";

    private static Task<CliRun> SubmitAsync(string pipe, string id, string text, params string[] extra) =>
        CliRunner.RunAsync(["submit", "--pipe", pipe, "--id", id, "--kind", Kind, "--agent", "cli-test", "--text", text, .. extra]);

    [Fact]
    public async Task Submit_NewDraft_PrintsReceiptWithTextHash()
    {
        await using var host = await TestHost.StartAsync();
        var id = NewId();
        const string text = "Thanks — shipping Friday. ✓";

        var run = await SubmitAsync(host.PipeName, id, text);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal($"stored {id} seq ", run.Stdout[..$"stored {id} seq ".Length]);
        Assert.Contains($" sha256 {Sha.Hex(text)} state pending", run.Stdout);
        Assert.DoesNotContain("(duplicate)", run.Stdout);
    }

    [Fact]
    public async Task Submit_Json_PrintsParseableResponseWithTextHash()
    {
        await using var host = await TestHost.StartAsync();
        var id = NewId();

        var run = await SubmitAsync(host.PipeName, id, "hello", "--json", "--context-json", """{"rationale":"because","source_url":"https://example.com/x"}""");

        Assert.True(run.ExitCode == 0, run.ToString());
        var line = Assert.Single(run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var response = PipeClient.ParseResponse(line);
        Assert.True(response.Ok);
        Assert.Equal(id, response.Receipt!.Id);
        Assert.Equal(Sha.Hex("hello"), response.Receipt.Sha256);
        Assert.False(response.Receipt.Duplicate);
    }

    [Fact]
    public async Task Submit_ContextJsonOfTheMostLevelsTheServiceTakes_StoredAsTheServiceCountsThem()
    {
        await using var host = await TestHost.StartAsync();
        var id = NewId();

        var run = await SubmitAsync(host.PipeName, id, "deep", "--context-json", NestedContext(61));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(61, JsonDepth.Of(System.Text.Json.JsonElement.Parse(host.Store.Get(id)!.ContextJson!)));
    }

    [Fact]
    public async Task Submit_SameIdSameText_ReportsDuplicateWithSameReceipt()
    {
        await using var host = await TestHost.StartAsync();
        var id = NewId();
        var first = await SubmitAsync(host.PipeName, id, "same words");

        var second = await SubmitAsync(host.PipeName, id, "same words");

        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.EndsWith("(duplicate)", second.Stdout.TrimEnd());
        Assert.Equal(first.Stdout.TrimEnd() + " (duplicate)", second.Stdout.TrimEnd());
    }

    [Fact]
    public async Task Submit_SameIdDifferentText_ExitsConflict()
    {
        await using var host = await TestHost.StartAsync();
        var id = NewId();
        await SubmitAsync(host.PipeName, id, "first words");

        var run = await SubmitAsync(host.PipeName, id, "other words");

        Assert.True(run.ExitCode == 3, run.ToString());
        Assert.StartsWith("error conflict", run.Stderr);
        Assert.Empty(run.Stdout);
    }

    [Fact]
    public async Task Submit_UnknownKind_ExitsBadInput()
    {
        await using var host = await TestHost.StartAsync();

        var run = await CliRunner.RunAsync("submit", "--pipe", host.PipeName, "--id", NewId(), "--kind", "no-such-kind", "--agent", "cli-test", "--text", "t");

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.StartsWith("error unknown_kind", run.Stderr);
    }

    [Fact]
    public async Task Submit_EmptyText_ExitsBadInputNamingTheField()
    {
        await using var host = await TestHost.StartAsync();

        var id = NewId();
        var run = await SubmitAsync(host.PipeName, id, "");

        // Refused before sending, as an empty stdin or file is: one refusal for an empty text, however it came.
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.StartsWith("error usage (draft.text): --text is empty: a draft needs a text", run.Stderr);
        Assert.Null(host.Store.Get(id));
    }

    [Fact]
    public async Task Submit_TextOnStdin_StoresItExactly()
    {
        await using var host = await TestHost.StartAsync();
        var id = NewId();
        const string text = "line one\nline two\n";

        var run = await CliRunner.RunWithStdinAsync(text, "submit", "--pipe", host.PipeName, "--id", id, "--kind", Kind, "--agent", "cli-test");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains($" sha256 {Sha.Hex(text)} ", run.Stdout);
        await using var client = await host.ConnectAsync();
        Assert.Equal(text, (await client.GetAsync(id)).Draft!.Text);
    }

    [Fact]
    public async Task Submit_TextFile_StoresItExactly()
    {
        await using var host = await TestHost.StartAsync();
        var id = NewId();
        const string text = "from a file: «quoted» ✓";
        var file = Path.Combine(host.DataDirectory, "draft.txt");
        await File.WriteAllTextAsync(file, text, new UTF8Encoding(false));

        var run = await CliRunner.RunAsync("submit", "--pipe", host.PipeName, "--id", id, "--kind", Kind, "--agent", "cli-test", "--text-file", file);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains($" sha256 {Sha.Hex(text)} ", run.Stdout);
        await using var client = await host.ConnectAsync();
        Assert.Equal(text, (await client.GetAsync(id)).Draft!.Text);
    }

    [Fact]
    public async Task Get_KnownDraft_PrintsStateAndText()
    {
        await using var host = await TestHost.StartAsync();
        var id = NewId();
        await SubmitAsync(host.PipeName, id, "the draft text");

        var run = await CliRunner.RunAsync("get", id, "--pipe", host.PipeName);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Matches($"(?m)^id +{id}$", run.Stdout);
        Assert.Matches("(?m)^kind +reply$", run.Stdout);
        Assert.EndsWith("the draft text", run.Stdout.TrimEnd());
    }

    [Fact]
    public async Task Get_UnknownId_ExitsNotFound()
    {
        await using var host = await TestHost.StartAsync();

        var run = await CliRunner.RunAsync("get", NewId(), "--pipe", host.PipeName);

        Assert.True(run.ExitCode == 4, run.ToString());
        Assert.StartsWith("error not_found", run.Stderr);
    }

    [Fact]
    public async Task Wait_UndecidedDraft_ExitsTimedOut()
    {
        await using var host = await TestHost.StartAsync();
        var id = NewId();
        await SubmitAsync(host.PipeName, id, "nobody decides");

        var run = await CliRunner.RunAsync("wait", id, "--timeout", "1", "--pipe", host.PipeName);

        Assert.True(run.ExitCode == 6, run.ToString());
        Assert.Contains("not decided within 1 s", run.Stderr);
    }

    [Fact]
    public async Task Cancel_PendingDraft_PrintsTheDraftWithdrawnAndARepeatAnswersTheSame()
    {
        await using var host = await TestHost.StartAsync();
        var id = NewId();
        await SubmitAsync(host.PipeName, id, "obsolete reply");

        var run = await CliRunner.RunAsync("cancel", id, "--reason", "the thread was deleted", "--pipe", host.PipeName);
        var again = await CliRunner.RunAsync("cancel", id, "--pipe", host.PipeName);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Matches($"(?m)^id +{id}$", run.Stdout);
        Assert.Matches("(?m)^state +cancelled$", run.Stdout);
        Assert.Matches(@"(?m)^cancelled +by the agent at \S+ \S+: the thread was deleted$", run.Stdout);
        Assert.EndsWith("obsolete reply", run.Stdout.TrimEnd());
        Assert.Empty(run.Stderr);
        Assert.Equal((0, run.Stdout, ""), (again.ExitCode, again.Stdout, again.Stderr));
        Assert.Single(host.Store.Events(id), e => e.Type == "cancelled");
    }

    [Fact]
    public async Task Cancel_Json_PrintsTheServiceLineVerbatim()
    {
        await using var host = await TestHost.StartAsync();
        var id = NewId();
        await SubmitAsync(host.PipeName, id, "obsolete reply");

        var run = await CliRunner.RunAsync("cancel", id, "--reason", "superseded ✓", "--json", "--pipe", host.PipeName);

        Assert.True(run.ExitCode == 0, run.ToString());
        // Asked again, the service answers the same line: the repeat is the first answer.
        Assert.Equal(await ServiceLineAsync(host, $$"""{"op":"cancel","id":"{{id}}"}""") + Environment.NewLine, run.Stdout);
        Assert.Equal("superseded ✓", PipeClient.ParseResponse(run.Stdout).Draft!.Cancellation!.Reason);
    }

    [Fact]
    public async Task Cancel_DraftPastWithdrawing_ExitsConflictWithTheErrorLineAndNothingChanged()
    {
        await using var host = await TestHost.StartAsync();
        var id = NewId();
        await SubmitAsync(host.PipeName, id, "decided already");
        await DraftFixtures.MoveAsync(host.Store, id, DraftState.Pending, DraftState.Rejected);
        var events = host.Store.Events(id);

        var run = await CliRunner.RunAsync("cancel", id, "--reason", "too late", "--pipe", host.PipeName);

        Assert.True(run.ExitCode == 3, run.ToString());
        Assert.Equal($"error conflict (id): draft '{id}' is rejected: the approver rejected it; nothing will execute it; nothing changed", run.Stderr.TrimEnd());
        Assert.Empty(run.Stdout);
        Assert.Equal(events, host.Store.Events(id));
    }

    [Fact]
    public async Task Cancel_UnknownId_ExitsNotFound()
    {
        await using var host = await TestHost.StartAsync();
        var id = NewId();

        var run = await CliRunner.RunAsync("cancel", id, "--pipe", host.PipeName);

        Assert.True(run.ExitCode == 4, run.ToString());
        Assert.Equal($"error not_found (id): no draft with id '{id}'", run.Stderr.TrimEnd());
    }

    /// <summary>The service's rules for a reason reach the command line as they are: exit 2 with the service's message, nothing changed.</summary>
    [Theory]
    [InlineData("gone\nApproved", "error invalid (reason): contains the control character U+000A at index 4; a reason takes no control characters")]
    [InlineData("", "error invalid (reason): must not be empty (leave reason out to give none)")]
    [InlineData("\u200b", "error invalid (reason): has no visible character: only whitespace and invisible characters such as U+200B at index 0")]
    public async Task Cancel_ReasonTheServiceRefuses_ExitsBadInputAndNothingChanged(string reason, string error)
    {
        await using var host = await TestHost.StartAsync();
        var id = NewId();
        await SubmitAsync(host.PipeName, id, "still wanted");
        var events = host.Store.Events(id);

        var run = await CliRunner.RunAsync("cancel", id, "--reason", reason, "--pipe", host.PipeName);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Equal(error, run.Stderr.TrimEnd());
        Assert.Equal(DraftState.Pending, host.Store.Get(id)!.State);
        Assert.Equal(events, host.Store.Events(id));
    }

    [Fact]
    public async Task List_AfterSubmit_ShowsDraftInTable()
    {
        await using var host = await TestHost.StartAsync();
        var id = NewId();
        await SubmitAsync(host.PipeName, id, "listed");

        var run = await CliRunner.RunAsync("list", "--kind", Kind, "--limit", "10", "--pipe", host.PipeName);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.StartsWith("ID", run.Stdout);
        Assert.Contains(id, run.Stdout);
    }

    /// <summary>
    /// The same submit by the fast path (plain <c>--id value</c>) or the full parser (<c>--id=value</c> is a shape only
    /// System.CommandLine reads), so a test can show both paths store the same.
    /// </summary>
    private static Task<CliRun> SubmitByPathAsync(bool fullPath, string pipe, string id, string text, params string[] extra) =>
        CliRunner.RunAsync(["submit", "--pipe", pipe, .. fullPath ? new[] { $"--id={id}" } : ["--id", id], "--kind", Kind, "--agent", "cli-test", "--text", text, .. extra]);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Submit_TextStartingWithAt_StoredAsGivenByEitherPath(bool fullPath)
    {
        await using var host = await TestHost.StartAsync();
        var id = NewId();

        var run = await SubmitByPathAsync(fullPath, host.PipeName, id, "@hwchase17 thanks");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("@hwchase17 thanks", host.Store.Get(id)!.Text);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Submit_TextNamingAnExistingFileAfterAt_StoredAsGivenNotTheFileWords(bool fullPath)
    {
        await using var host = await TestHost.StartAsync();
        var id = NewId();
        // A response file of one word would have replaced the whole text.
        var file = Path.Combine(host.DataDirectory, "words.rsp");
        await File.WriteAllTextAsync(file, "replaced");

        var run = await SubmitByPathAsync(fullPath, host.PipeName, id, "@" + file);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("@" + file, host.Store.Get(id)!.Text);
        Assert.Contains($" sha256 {Sha.Hex("@" + file)} ", run.Stdout);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Submit_MultiLineContextJson_StoredCompactByEitherPath(bool fullPath)
    {
        await using var host = await TestHost.StartAsync();
        var id = NewId();
        const string context = "{\n  \"rationale\": \"asked for ETA\",\n  \"source_url\": \"https://x.com/a\"\n}\n";

        var run = await SubmitByPathAsync(fullPath, host.PipeName, id, "multi-line context", "--context-json", context);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("""{"rationale":"asked for ETA","source_url":"https://x.com/a"}""", host.Store.Get(id)!.ContextJson);
    }

    [Fact]
    public async Task Submit_NonAsciiTextAndContext_BothPathsStoreTheSameBytes()
    {
        // 1500 "é" are 3000 bytes of JSON as UTF-8, 9000 as \u00e9 escapes: within 4000 only if sent raw.
        await using var host = await TestHost.StartAsync(["ApprovalBot:Pipe:MaxContextBytes=4000"]);
        var (fast, full) = (NewId(), NewId());
        const string text = "Спасибо! é ü 漢字 😀 \"quoted\" \u2028 end";
        var context = $$"""{"rationale":"{{new string('é', 1500)}}","emoji":"😀","escaped":"\u00fc\n"}""";

        var fastRun = await SubmitByPathAsync(false, host.PipeName, fast, text, "--context-json", context);
        var fullRun = await SubmitByPathAsync(true, host.PipeName, full, text, "--context-json", context);
        var fastGet = await CliRunner.RunAsync("get", fast, "--json", "--pipe", host.PipeName);
        var fullGet = await CliRunner.RunAsync("get", full, "--json", "--pipe", host.PipeName);

        Assert.True(fastRun.ExitCode == 0, fastRun.ToString());
        Assert.True(fullRun.ExitCode == 0, fullRun.ToString());
        var (fastDraft, fullDraft) = (PipeClient.ParseResponse(fastGet.Stdout.Trim()).Draft!, PipeClient.ParseResponse(fullGet.Stdout.Trim()).Draft!);
        Assert.Equal(Sha.Hex(text), fastDraft.Sha256);
        Assert.Equal(fastDraft.Sha256, fullDraft.Sha256);
        Assert.Equal(fastDraft.Context!.Value.GetRawText(), fullDraft.Context!.Value.GetRawText());
        var stored = host.Store.Get(fast)!.ContextJson!;
        Assert.Equal(stored, host.Store.Get(full)!.ContextJson);
        Assert.Equal($$"""{"rationale":"{{new string('é', 1500)}}","emoji":"😀","escaped":"ü\n"}""", stored);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Submit_SubmitOptionBeforeTheCommand_RefusedByEitherPathAndNothingStored(bool fullPath)
    {
        await using var host = await TestHost.StartAsync();
        var id = NewId();
        string[] options = fullPath ? [$"--id={id}"] : ["--id", id];

        var run = await CliRunner.RunAsync([.. options, "submit", "--pipe", host.PipeName, "--kind", Kind, "--agent", "cli-test", "--text", "hi"]);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.StartsWith("error usage", run.Stderr);
        Assert.Null(host.Store.Get(id));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Submit_GlobalOptionsBeforeTheCommand_StoredByEitherPath(bool fullPath)
    {
        await using var host = await TestHost.StartAsync();
        var id = NewId();
        string[] options = fullPath ? [$"--id={id}"] : ["--id", id];

        var run = await CliRunner.RunAsync(["--pipe", host.PipeName, "--json", "submit", .. options, "--kind", Kind, "--agent", "cli-test", "--text", "hi"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(id, PipeClient.ParseResponse(run.Stdout.Trim()).Receipt!.Id);
        Assert.Equal("hi", host.Store.Get(id)!.Text);
    }

    [Theory]
    [InlineData("file", false)]
    [InlineData("file", true)]
    [InlineData("stdin", false)]
    public async Task Submit_Utf16TextWithoutByteOrderMark_ServiceRefusesTheNulsExitsBadInputAndNothingStored(string source, bool fullPath)
    {
        // UTF-16LE without a BOM is valid UTF-8 (a NUL after each ASCII letter), so only the service's check can catch it.
        await using var host = await TestHost.StartAsync();
        var id = NewId();
        var bytes = Encoding.Unicode.GetBytes("Thanks, shipping Friday.\n");
        var file = Path.Combine(host.DataDirectory, "utf16.txt");
        await File.WriteAllBytesAsync(file, bytes);
        string[] args = ["submit", "--pipe", host.PipeName, .. fullPath ? new[] { $"--id={id}" } : ["--id", id], "--kind", Kind, "--agent", "cli-test"];

        var run = source == "file"
            ? await CliRunner.RunAsync([.. args, "--text-file", file])
            : await CliRunner.RunWithStdinBytesAsync(bytes, args);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Equal("error invalid (draft.text): contains the control character U+0000 (NUL) at index 1: is it UTF-16 text read as UTF-8?", run.Stderr.TrimEnd());
        Assert.Empty(run.Stdout);
        Assert.Null(host.Store.Get(id));
        Assert.Empty(host.Store.List(null, null, 10));
    }

    [Fact]
    public async Task Submit_TextOnlyZeroWidthCharacters_ExitsBadInputWithTheServiceMessage()
    {
        await using var host = await TestHost.StartAsync();
        var id = NewId();

        var run = await SubmitAsync(host.PipeName, id, "\u200b\u2060");

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Equal("error invalid (draft.text): has no visible character: only whitespace and invisible characters such as U+200B at index 0", run.Stderr.TrimEnd());
        Assert.Null(host.Store.Get(id));
    }

    [Theory]
    [InlineData("file")]
    [InlineData("stdin")]
    public async Task Submit_TextWithUtf8ByteOrderMark_StoredWithoutIt(string source)
    {
        await using var host = await TestHost.StartAsync();
        var id = NewId();
        const string text = "from Notepad: «ü»\n";
        byte[] bytes = [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(text)];
        var file = Path.Combine(host.DataDirectory, "bom.txt");
        await File.WriteAllBytesAsync(file, bytes);
        string[] args = ["submit", "--pipe", host.PipeName, "--id", id, "--kind", Kind, "--agent", "cli-test"];

        var run = source == "file"
            ? await CliRunner.RunAsync([.. args, "--text-file", file])
            : await CliRunner.RunWithStdinBytesAsync(bytes, args);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains($" sha256 {Sha.Hex(text)} ", run.Stdout);
        Assert.Equal(text, host.Store.Get(id)!.Text);
    }

    [Theory]
    [InlineData("get")]
    [InlineData("wait")]
    public async Task Get_IdWithLineBreak_ErrorOnOneLine(string command)
    {
        await using var host = await TestHost.StartAsync();

        var run = await CliRunner.RunAsync(command, "a\nb\rc", "--pipe", host.PipeName);

        // The service's message quotes the id as given; the error line escapes it.
        Assert.True(run.ExitCode == 4, run.ToString());
        Assert.Equal("error not_found (id): no draft with id 'a\\nb\\rc'", Assert.Single(run.Stderr.TrimEnd().Split('\n')));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public async Task Submit_SixteenMegabyteText_TooLargeExitsBadInputByEitherPath(bool fullPath, bool json)
    {
        // Far over the 1 MiB line limit: the service refuses the line long before approvalctl has written it all.
        await using var host = await TestHost.StartAsync();
        var id = NewId();

        var run = await SubmitByPathAsync(fullPath, host.PipeName, id, new string('x', 16 * 1024 * 1024), json ? ["--json"] : []);

        Assert.True(run.ExitCode == 2, run.ToString()[..Math.Min(2000, run.ToString().Length)]);
        // --json: the service's answer and nothing else, as for any error answer; otherwise one error line.
        if (json)
        {
            Assert.Equal(ErrorCodes.TooLarge, PipeClient.ParseResponse(Assert.Single(run.Stdout.TrimEnd().Split('\n'))).Error!.Code);
            Assert.Empty(run.Stderr);
        }
        else
        {
            Assert.StartsWith("error too_large", run.Stderr);
            Assert.Single(run.Stderr.TrimEnd().Split('\n'));
            Assert.Empty(run.Stdout);
        }
        Assert.Null(host.Store.Get(id));
    }

    /// <summary>Each way the service refuses a command, for the --json table below: the arguments after the pipe, and the exit code.</summary>
    public static TheoryData<string, string[], int> RefusedByTheService => new()
    {
        { "get, unknown id", ["get", "cli:none"], 4 },
        { "wait, unknown id", ["wait", "cli:none", "--timeout", "0"], 4 },
        { "cancel, unknown id", ["cancel", "cli:none"], 4 },
        { "cancel, refused reason", ["cancel", "cli:none", "--reason", "\u200b"], 2 },
        { "submit fast path, empty text", ["submit", "--id", "cli:empty", "--kind", Kind, "--agent", "a", "--text", " "], 2 },
        { "submit full parser, empty text", ["submit", "--id=cli:empty", "--kind", Kind, "--agent", "a", "--text", " "], 2 },
        { "submit fast path, unknown kind", ["submit", "--id", "cli:kind", "--kind", "nokind", "--agent", "a", "--text", "t"], 2 },
        { "submit full parser, unknown kind", ["submit", "--id=cli:kind", "--kind", "nokind", "--agent", "a", "--text", "t"], 2 },
        { "submit, same id other text", ["submit", "--id", "cli:taken", "--kind", Kind, "--agent", "a", "--text", "other"], 3 },
    };

    [Theory]
    [MemberData(nameof(RefusedByTheService))]
    public async Task Run_JsonAndTheServiceRefuses_ItsAnswerLineOnStdoutIsTheOnlyOutput(string what, string[] args, int exitCode)
    {
        await using var host = await TestHost.StartAsync();
        Assert.Equal(0, (await SubmitAsync(host.PipeName, "cli:taken", "first")).ExitCode);

        var json = await CliRunner.RunAsync([.. args, "--json", "--pipe", host.PipeName]);
        var text = await CliRunner.RunAsync([.. args, "--pipe", host.PipeName]);

        Assert.True(json.ExitCode == exitCode, what + ": " + json);
        var answer = PipeClient.ParseResponse(Assert.Single(json.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.False(answer.Ok);
        Assert.True(json.Stderr.Length == 0, what + ": " + json);
        // Without --json the same refusal is the one error line on stderr, naming the same code.
        Assert.Equal((exitCode, ""), (text.ExitCode, text.Stdout));
        Assert.StartsWith($"error {answer.Error!.Code}", Assert.Single(text.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_ReplacementCharacterGivenAsUtf8_StoredAsGiven()
    {
        await using var host = await TestHost.StartAsync();
        var id = NewId();
        const string text = "ab\uFFFDcd";

        // EF BF BD is U+FFFD itself, valid UTF-8: only a replaced byte is refused.
        var run = await CliRunner.RunWithArgumentBytesAsync([.. new[] { "submit", "--pipe", host.PipeName, "--id", id, "--kind", Kind, "--agent", "cli-test", "--text", text }
            .Select(arg => Encoding.UTF8.GetBytes(arg))]);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains($" sha256 {Sha.Hex(text)} ", run.Stdout);
        Assert.Equal(text, host.Store.Get(id)!.Text);
    }

    /// <summary>The response line the service gives <paramref name="request"/>, read with a plain client.</summary>
    private static async Task<string> ServiceLineAsync(TestHost host, string request)
    {
        await using var client = await host.ConnectAsync();
        return (await client.SendRawAsync(Encoding.UTF8.GetBytes(request)))!;
    }

    [Fact]
    public async Task Get_Json_PrintsTheServiceLineVerbatim()
    {
        await using var host = await TestHost.StartAsync();
        var id = NewId();
        await SubmitAsync(host.PipeName, id, "the draft text ✓ <b>");

        var run = await CliRunner.RunAsync("get", id, "--json", "--pipe", host.PipeName);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(await ServiceLineAsync(host, $$"""{"op":"get","id":"{{id}}"}""") + Environment.NewLine, run.Stdout);
        Assert.Empty(run.Stderr);
    }

    [Fact]
    public async Task Wait_JsonDecided_PrintsTheServiceLineVerbatim()
    {
        await using var host = await TestHost.StartAsync();
        var id = NewId();
        await SubmitAsync(host.PipeName, id, "decide me");
        await DraftFixtures.MoveAsync(host.Store, id, DraftState.Pending, DraftState.Rejected, new Dictionary<string, object?>
        {
            ["decision"] = "rejected", ["decided_by"] = 1001L, ["decision_sha256"] = Sha.Hex("decide me"),
        });

        var run = await CliRunner.RunAsync("wait", id, "--timeout", "5", "--json", "--pipe", host.PipeName);

        Assert.True(run.ExitCode == 0, run.ToString());
        var line = await ServiceLineAsync(host, $$"""{"op":"wait","id":"{{id}}","timeout_ms":5000}""");
        Assert.Equal(line + Environment.NewLine, run.Stdout);
        Assert.True(PipeClient.ParseResponse(line).Decided);
    }

    [Fact]
    public async Task Wait_JsonTimedOut_PrintsTheServiceLineAndExitsTimedOut()
    {
        await using var host = await TestHost.StartAsync();
        var id = NewId();
        await SubmitAsync(host.PipeName, id, "nobody decides");

        var run = await CliRunner.RunAsync("wait", id, "--timeout", "0", "--json", "--pipe", host.PipeName);

        Assert.True(run.ExitCode == 6, run.ToString());
        var line = await ServiceLineAsync(host, $$"""{"op":"wait","id":"{{id}}","timeout_ms":0}""");
        Assert.Equal(line + Environment.NewLine, run.Stdout);
        Assert.False(PipeClient.ParseResponse(line).Decided);
        // The line says it ("decided":false); the exit code tells a script. Without --json, a timeout line on stderr.
        Assert.Empty(run.Stderr);
    }

    [Fact]
    public async Task List_Json_PrintsTheServiceLineVerbatim()
    {
        await using var host = await TestHost.StartAsync();
        await SubmitAsync(host.PipeName, NewId(), "first");
        await SubmitAsync(host.PipeName, NewId(), "second");

        var run = await CliRunner.RunAsync("list", "--state", "pending", "--kind", Kind, "--limit", "10", "--json", "--pipe", host.PipeName);

        Assert.True(run.ExitCode == 0, run.ToString());
        var line = await ServiceLineAsync(host, """{"op":"list","state":"pending","kind":"reply","limit":10}""");
        Assert.Equal(line + Environment.NewLine, run.Stdout);
        Assert.Equal(2, PipeClient.ParseResponse(line).Drafts!.Count);
    }

    [Fact]
    public async Task List_FullPages_EachEndsWithTheCommandForTheNextOnStderr_TheLastDoesNot()
    {
        await using var host = await TestHost.StartAsync();
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add(NewId());
            await SubmitAsync(host.PipeName, ids[^1], $"draft {i}");
        }
        var seqs = ids.Select(id => host.Store.Get(id)!.Seq).ToList();

        var first = await CliRunner.RunAsync("list", "--state", "pending", "--kind", Kind, "--limit", "2", "--pipe", host.PipeName);
        var second = await CliRunner.RunAsync("list", "--state", "pending", "--kind", Kind, "--limit", "2", "--before", $"{seqs[3]}", "--pipe", host.PipeName);
        var last = await CliRunner.RunAsync("list", "--state", "pending", "--kind", Kind, "--limit", "2", "--before", $"{seqs[1]}", "--pipe", host.PipeName);

        Assert.True(first.ExitCode == 0 && second.ExitCode == 0 && last.ExitCode == 0, $"{first}\n{second}\n{last}");
        // The table on stdout as before; the hint alone on stderr, ready to paste.
        Assert.Equal([ids[4], ids[3]], TableIds(first.Stdout));
        Assert.Equal($"more: approvalctl list --state pending --kind {Kind} --limit 2 --before {seqs[3]} --pipe {host.PipeName}\n", first.Stderr);
        Assert.Equal([ids[2], ids[1]], TableIds(second.Stdout));
        Assert.Equal($"more: approvalctl list --state pending --kind {Kind} --limit 2 --before {seqs[1]} --pipe {host.PipeName}\n", second.Stderr);
        Assert.Equal([ids[0]], TableIds(last.Stdout));
        Assert.Empty(last.Stderr);
    }

    [Fact]
    public async Task List_AllThatMatchFitThePage_NoHint()
    {
        await using var host = await TestHost.StartAsync();
        await SubmitAsync(host.PipeName, NewId(), "only one");

        var run = await CliRunner.RunAsync("list", "--limit", "1", "--pipe", host.PipeName);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Single(TableIds(run.Stdout));
        Assert.Empty(run.Stderr);
    }

    [Fact]
    public async Task List_BeforeJson_PrintsTheServiceLineVerbatimWithNextBeforeAndNoHint()
    {
        await using var host = await TestHost.StartAsync();
        for (var i = 0; i < 4; i++)
        {
            await SubmitAsync(host.PipeName, NewId(), $"draft {i}");
        }

        var run = await CliRunner.RunAsync("list", "--limit", "2", "--before", "4", "--json", "--pipe", host.PipeName);

        Assert.True(run.ExitCode == 0, run.ToString());
        var line = await ServiceLineAsync(host, """{"op":"list","limit":2,"before":4}""");
        Assert.Equal(line + Environment.NewLine, run.Stdout);
        Assert.Equal(2, PipeClient.ParseResponse(line).NextBefore);
        Assert.Equal([3L, 2L], PipeClient.ParseResponse(line).Drafts!.Select(d => d.Seq));
        Assert.Empty(run.Stderr);
    }

    /// <summary>The ids of a <c>list</c> table, in its order (the header row left out).</summary>
    private static List<string> TableIds(string stdout) =>
        [.. stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(row => row.Split(' ')[0])];

    [Fact]
    public async Task Ping_Service_ExitsOk()
    {
        await using var host = await TestHost.StartAsync();

        var run = await CliRunner.RunAsync("ping", "--json", "--pipe", host.PipeName);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.True(PipeClient.ParseResponse(run.Stdout.Trim()).Ok);
    }

    [Theory]
    [InlineData("orphans", "No orphans.")]
    [InlineData("stale", "Nothing stale.")]
    public async Task Report_FreshService_SaysNothingFound(string report, string expected)
    {
        // Only the report op of reconciliation: the full feature also brings Quartz and Telegram, which this CLI test does not need.
        await using var host = await TestHost.StartAsync(services: services =>
        {
            services.AddOptions<ReconciliationOptions>().BindConfiguration(ReconciliationOptions.Section);
            services.AddSingleton<IRouteLookup, ConfiguredRouteLookup>();
            services.AddSingleton<GapFinder>();
            services.AddPipeOperation<ReportOperation>();
        });

        var run = await CliRunner.RunAsync(report, "--pipe", host.PipeName);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(expected, run.Stdout.Trim());
    }
}
