using System.Text;
using System.Text.Json;
using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Tests.Execution;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Tests.Pipe;

public sealed class SubmitOperationTests : IAsyncLifetime
{
    private TestHost _host = null!;
    private PipeClient _client = null!;

    public async Task InitializeAsync()
    {
        _host = await TestHost.StartAsync();
        _client = await _host.ConnectAsync();
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _host.DisposeAsync();
    }

    private static DraftSubmission Draft(string id, string text, string kind = "reply") =>
        new() { Id = id, Kind = kind, Agent = "outbound-engager", Text = text };

    [Fact]
    public async Task Submit_NewDraft_ReceiptCarriesShaOfStoredTextAndPendingState()
    {
        var text = "Thanks — <b>great</b> point & \"quoted\" 🙂";

        var receipt = (await _client.SubmitAsync(Draft("reply:hwchase17:2036566373820932605", text))).Receipt!;

        Assert.Equal(Sha.Hex(text), receipt.Sha256);
        Assert.Equal(States.Pending, receipt.State);
        Assert.False(receipt.Duplicate);
        var stored = (await _client.GetAsync(receipt.Id)).Draft!;
        Assert.Equal(text, stored.Text);
        Assert.Equal(receipt.Seq, stored.Seq);
    }

    [Fact]
    public async Task Submit_SameIdSameText_ReturnsOriginalReceiptMarkedDuplicate()
    {
        var first = (await _client.SubmitAsync(Draft("reply:dup", "same words"))).Receipt!;

        var second = (await _client.SubmitAsync(Draft("reply:dup", "same words"))).Receipt!;

        Assert.True(second.Duplicate);
        Assert.Equal(first with { Duplicate = true }, second);
        Assert.Single(_host.Store.Events("reply:dup"));
    }

    /// <summary>Agents racing to submit other texts under taken ids: every one answered conflict, one warning a minute counting the others.</summary>
    [Fact]
    public async Task Submit_ManyConflicts_EachAnsweredAndOneWarningAMinuteCountingTheOthers()
    {
        var clock = new ManualTimeProvider();
        var logs = new CapturedLogs();
        await using var host = await TestHost.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock).AddSingleton<ILoggerProvider>(logs));
        await using var client = await host.ConnectAsync();
        Assert.True((await client.SubmitAsync(Draft("reply:taken", "first words"))).Ok);

        var answers = new List<Response>();
        for (var i = 0; i < 5; i++)
        {
            if (i == 4)
            {
                clock.Advance(TimeSpan.FromMinutes(1));
            }
            answers.Add(await client.SubmitAsync(Draft("reply:taken", $"other words {i}")));
        }

        Assert.All(answers, a => Assert.Equal((ErrorCodes.Conflict, "draft.id"), (a.Error?.Code, a.Error?.Field)));
        var warnings = logs.Entries.Where(e => e.EventId.Name == "SubmitConflict").ToList();
        Assert.Equal([0, 3], warnings.Select(w => w.Properties["Suppressed"]));
        Assert.All(warnings, w => Assert.Equal(LogLevel.Warning, w.Level));
        Assert.Equal("first words", host.Store.Get("reply:taken")!.Text);
    }

    [Fact]
    public async Task Submit_SameIdSameTextAfterTheDraftMovedOn_ReturnsTheOriginalPendingReceipt()
    {
        var first = (await _client.SubmitAsync(Draft("reply:dup-moved", "same words"))).Receipt!;
        await DraftFixtures.MoveAsync(_host.Store, "reply:dup-moved", DraftState.Pending, DraftState.Carded);
        await DraftFixtures.MoveAsync(_host.Store, "reply:dup-moved", DraftState.Carded, DraftState.Approved, new Dictionary<string, object?>
        {
            ["decision"] = "approved", ["decided_by"] = 1001L, ["decision_sha256"] = Sha.Hex("same words"),
        });

        var second = (await _client.SubmitAsync(Draft("reply:dup-moved", "same words"))).Receipt!;

        Assert.Equal(States.Pending, first.State);
        Assert.Equal(first with { Duplicate = true }, second);
        Assert.Equal(States.Approved, (await _client.GetAsync("reply:dup-moved")).Draft!.State);
        Assert.Equal(3, _host.Store.Events("reply:dup-moved").Count);
    }

    [Fact]
    public async Task Submit_SameIdDifferentText_ConflictAndOriginalUnchanged()
    {
        await _client.SubmitAsync(Draft("reply:conflict", "original words"));

        var response = await _client.SubmitAsync(Draft("reply:conflict", "different words"));

        Assert.Equal(ErrorCodes.Conflict, response.Error!.Code);
        Assert.Equal("draft.id", response.Error.Field);
        var stored = (await _client.GetAsync("reply:conflict")).Draft!;
        Assert.Equal("original words", stored.Text);
        Assert.Equal(Sha.Hex("original words"), stored.Sha256);
        Assert.Single(_host.Store.Events("reply:conflict"));
    }

    [Fact]
    public async Task Submit_WithContext_StoredAndReturnedAsObject()
    {
        using var context = JsonDocument.Parse("""{"rationale":"he asked","source_url":"https://x.com/a/status/1","score":0.9}""");
        var draft = Draft("reply:ctx", "hi") with { Context = context.RootElement.Clone() };

        await _client.SubmitAsync(draft);
        var stored = (await _client.GetAsync("reply:ctx")).Draft!;

        Assert.Equal("he asked", stored.Context!.Value.GetProperty("rationale").GetString());
        Assert.Equal(0.9, stored.Context.Value.GetProperty("score").GetDouble());
    }

    [Fact]
    public async Task Submit_ContextNull_StoredWithoutAContext()
    {
        // An agent's JSON library may write an absent optional object as null: that is no context, not a context "null".
        var line = """{"op":"submit","draft":{"id":"reply:ctx-null","kind":"reply","agent":"e","text":"t","context":null}}""";

        var response = PipeClient.ParseResponse((await _client.SendRawAsync(Encoding.UTF8.GetBytes(line)))!);

        Assert.True(response.Ok, response.Error?.Message);
        Assert.Null((await _client.GetAsync("reply:ctx-null")).Draft!.Context);
        Assert.Equal("null", SqliteFile.Scalar(Path.Combine(_host.DataDirectory, "approvals.db"), "SELECT typeof(context) FROM drafts WHERE id = 'reply:ctx-null'"));
    }

    public static TheoryData<string> ContextsNotValidUnicode => new()
    {
        """{"rationale":"a\ud800b"}""",
        """{"source_url":"\udfff"}""",
        """{"rationale":"fine","more":{"deeper":{"note":"x\ud800"}}}""",
        """{"list":["ok",{"n":"\ud83d\ud83d"}]}""",
        """{"\ud800":"x"}""",
        """{"a":{"b\udc00c":1}}""",
        """{"a":[{"ok":1},{"\ude00":2}]}""",
    };

    [Theory]
    [MemberData(nameof(ContextsNotValidUnicode))]
    public async Task Submit_ContextHoldsTextThatIsNotValidUnicode_RefusedAtDraftContextAndNothingStored(string context)
    {
        var line = """{"op":"submit","draft":{"id":"reply:ctx-bad","kind":"reply","agent":"e","text":"t","context":""" + context + "}}";

        var response = PipeClient.ParseResponse((await _client.SendRawAsync(System.Text.Encoding.UTF8.GetBytes(line)))!);

        Assert.Equal(ErrorCodes.Invalid, response.Error!.Code);
        Assert.Equal("draft.context", response.Error.Field);
        Assert.Equal("holds a name or string that is not valid Unicode text (an unpaired surrogate escape)", response.Error.Message);
        Assert.Null(_host.Store.Get("reply:ctx-bad"));
        Assert.True((await _client.PingAsync()).Ok);
    }

    /// <summary>A context of <paramref name="depth"/> levels: an object holding nested arrays.</summary>
    private static string NestedContext(int depth) => """{"a":""" + new string('[', depth - 1) + new string(']', depth - 1) + "}";

    [Fact]
    public async Task Submit_ContextNestedDeeperThanAListAnswerCarries_RefusedAtDraftContextAndNothingStored()
    {
        // 62 levels fit the request's 64, but not a list or claim answer (answer, array, draft, context): such a draft was
        // stored, and every list that held it was answered internal.
        var line = """{"op":"submit","draft":{"id":"reply:ctx-deep","kind":"reply","agent":"e","text":"t","context":""" + NestedContext(62) + "}}";

        var response = PipeClient.ParseResponse((await _client.SendRawAsync(Encoding.UTF8.GetBytes(line)))!);

        Assert.Equal(ErrorCodes.Invalid, response.Error!.Code);
        Assert.Equal("draft.context", response.Error.Field);
        Assert.Equal("must nest at most 61 levels of objects and arrays, itself included", response.Error.Message);
        Assert.Null(_host.Store.Get("reply:ctx-deep"));
        var list = await _client.ListAsync();
        Assert.True(list.Ok, list.Error?.Message);
    }

    [Fact]
    public async Task Submit_ContextNestedAsDeepAsAllowed_StoredAndListedWithIt()
    {
        var line = """{"op":"submit","draft":{"id":"reply:ctx-61","kind":"reply","agent":"e","text":"t","context":""" + NestedContext(61) + "}}";

        var response = PipeClient.ParseResponse((await _client.SendRawAsync(Encoding.UTF8.GetBytes(line)))!);
        var list = await _client.ListAsync();

        Assert.True(response.Ok, response.Error?.Message);
        Assert.True(list.Ok, list.Error?.Message);
        var listed = Assert.Single(list.Drafts!);
        Assert.Equal(61, JsonDepth.Of(listed.Context!.Value));
        Assert.Null(listed.ContextError);
    }

    [Fact]
    public async Task List_DraftWhoseStoredContextIsTooDeep_ListedWithTheContextLeftOutAndSaidWhy()
    {
        Assert.True((await _client.SubmitAsync(Draft("reply:deep-old", "old"))).Ok);
        // As this build stored it before the depth was checked.
        DraftFixtures.Sql(_host.DataDirectory, $"UPDATE drafts SET context = '{NestedContext(62)}' WHERE id = 'reply:deep-old'");

        foreach (var response in new[] { await _client.ListAsync(), await _client.GetAsync("reply:deep-old"), await _client.WaitAsync("reply:deep-old", 0) })
        {
            Assert.True(response.Ok, response.Error?.Message);
            var view = response.Draft ?? Assert.Single(response.Drafts!);
            Assert.Null(view.Context);
            Assert.Equal(DraftViews.ContextTooDeep, view.ContextError);
        }
    }

    [Fact]
    public async Task Submit_RetryOfADraftStoredWithATooDeepContext_GetsItsOriginalReceipt()
    {
        var first = (await _client.SubmitAsync(Draft("reply:deep-retry", "same text"))).Receipt!;
        DraftFixtures.Sql(_host.DataDirectory, $"UPDATE drafts SET context = '{NestedContext(62)}' WHERE id = 'reply:deep-retry'");
        var line = """{"op":"submit","draft":{"id":"reply:deep-retry","kind":"reply","agent":"outbound-engager","text":"same text","context":""" + NestedContext(62) + "}}";

        var response = PipeClient.ParseResponse((await _client.SendRawAsync(Encoding.UTF8.GetBytes(line)))!);

        Assert.True(response.Ok, response.Error?.Message);
        Assert.Equal((first.Seq, first.Sha256, true), (response.Receipt!.Seq, response.Receipt.Sha256, response.Receipt.Duplicate));
    }

    public static TheoryData<string, string, string, string> InvisibleOrControlText => new()
    {
        // agent, text, field, message
        { "e", "\u200b\u200c\u200d\u2060\ufeff", "draft.text", "has no visible character: only whitespace and invisible characters such as U+200B at index 0" },
        { "e", "\n\u00ad\n", "draft.text", "has no visible character: only whitespace and invisible characters such as U+00AD at index 1" },
        { "e", "\u3164\u2800", "draft.text", "has no visible character: only whitespace and invisible characters such as U+3164 at index 0" },
        { "e", Encoding.UTF8.GetString(Encoding.Unicode.GetBytes("Thanks!")), "draft.text", "contains the control character U+0000 (NUL) at index 1: is it UTF-16 text read as UTF-8?" },
        { "e", "bell\u0007", "draft.text", "contains the control character U+0007 at index 4; a text takes only tab, line feed and carriage return" },
        { "\ufeff", "t", "draft.agent", "has no visible character: only whitespace and invisible characters such as U+FEFF at index 0" },
        { "engager\r\nkind: post", "t", "draft.agent", "contains the control character U+000D at index 7; a name takes no control characters" },
    };

    [Theory]
    [MemberData(nameof(InvisibleOrControlText))]
    public async Task Submit_TextOrAgentTheApproverCannotSee_RefusedNamingTheFieldAndNothingStored(string agent, string text, string field, string message)
    {
        await _client.SubmitAsync(Draft("reply:before", "already here"));
        var before = _host.Store.List(null, null, 10);

        var response = await _client.SubmitAsync(Draft("reply:unseen", text) with { Agent = agent });

        Assert.Equal(ErrorCodes.Invalid, response.Error!.Code);
        Assert.Equal(field, response.Error.Field);
        Assert.Equal(message, response.Error.Message);
        Assert.Null(_host.Store.Get("reply:unseen"));
        Assert.Empty(_host.Store.Events("reply:unseen"));
        Assert.Equal(before.Select(d => (d.Id, d.Seq, d.State)), _host.Store.List(null, null, 10).Select(d => (d.Id, d.Seq, d.State)));
        Assert.True((await _client.PingAsync()).Ok);
    }

    public static TheoryData<string, string> StoredBeforeTheTextRules => new()
    {
        // agent, text: what an earlier build accepted and the rules now refuse.
        { "outbound-engager", "old \u001b[1mbold\u001b[0m" },
        { "outbound-engager", "\u200b\ufeff" },
        { "engager\tv1", "plain words" },
    };

    [Theory]
    [MemberData(nameof(StoredBeforeTheTextRules))]
    public async Task Submit_RetryOfADraftStoredBeforeTheTextRules_GetsTheOriginalReceipt(string agent, string text)
    {
        var original = (await _host.Store.SubmitAsync(new NewDraft("reply:stored-earlier", "reply", agent, text, Sha.Hex(text), null))).Receipt!;

        var retried = await _client.SubmitAsync(Draft("reply:stored-earlier", text) with { Agent = agent });

        Assert.True(retried.Ok, retried.Error?.Message);
        Assert.Equal(original with { Duplicate = true }, retried.Receipt);
        Assert.Single(_host.Store.Events("reply:stored-earlier"));
    }

    public static TheoryData<string, string, string> MalformedRepeats => new()
    {
        // the draft's fields after id, kind and text (as sent, JSON), field at fault, message: what a first submit is told
        { @",""agent"":""outbound-engager"",""context"":""x""", "draft.context", "wrong type: expected an object" },
        { @",""agent"":""outbound-engager"",""context"":[]", "draft.context", "wrong type: expected an object" },
        { @",""agent"":""\u200b""", "draft.agent", "has no visible character: only whitespace and invisible characters such as U+200B at index 0" },
        { @",""agent"":""engager \u202e reganet""", "draft.agent", "contains the bidirectional control U+202E at index 8; a name takes none (it could reorder what the card shows)" },
    };

    /// <summary>
    /// A repeat of a stored id and text whose other fields are malformed is refused as a first submit is; only the very
    /// request that was stored is a retry that gets its receipt whatever the rules say now.
    /// </summary>
    [Theory]
    [MemberData(nameof(MalformedRepeats))]
    public async Task Submit_MalformedRepeatOfAStoredIdAndText_RefusedAsAFirstSubmitIsAndNothingChanged(string fields, string field, string message)
    {
        var original = (await _client.SubmitAsync(Draft("reply:repeat", "same words"))).Receipt!;
        var line = @"{""op"":""submit"",""draft"":{""id"":""reply:repeat"",""kind"":""reply"",""text"":""same words""" + fields + "}}";
        var first = PipeClient.ParseResponse((await _client.SendRawAsync(Encoding.UTF8.GetBytes(line.Replace("reply:repeat", "reply:first", StringComparison.Ordinal))))!);

        var repeat = PipeClient.ParseResponse((await _client.SendRawAsync(Encoding.UTF8.GetBytes(line)))!);

        Assert.Equal(new ProtocolError(ErrorCodes.Invalid, message, field), repeat.Error);
        Assert.Equal(first.Error, repeat.Error);
        var stored = _host.Store.Get("reply:repeat")!;
        Assert.Equal((original.Seq, "outbound-engager", (string?)null), (stored.Seq, stored.Agent, stored.ContextJson));
        Assert.Single(_host.Store.Events("reply:repeat"));
    }

    /// <summary>
    /// An agent retries a submit whose answer it missed, after the operator took its kind out of the configuration: the
    /// draft is stored, and an unknown_kind would read as "not stored". Another kind, or another text, is still refused.
    /// </summary>
    [Fact]
    public async Task Submit_RetryOfADraftWhoseKindWasSinceRemoved_GetsTheOriginalReceipt()
    {
        var original = (await _host.Store.SubmitAsync(new NewDraft("retired:stored", "retired", "agent", "words", Sha.Hex("words"), null))).Receipt!;

        var retried = await _client.SubmitAsync(Draft("retired:stored", "words", kind: "retired"));
        var otherText = await _client.SubmitAsync(Draft("retired:stored", "other words", kind: "retired"));
        var otherKind = await _client.SubmitAsync(Draft("retired:stored", "words", kind: "retird"));

        Assert.True(retried.Ok, retried.Error?.Message);
        Assert.Equal(original with { Duplicate = true }, retried.Receipt);
        Assert.Equal((ErrorCodes.UnknownKind, "draft.kind"), (otherText.Error?.Code, otherText.Error?.Field));
        Assert.Equal((ErrorCodes.UnknownKind, "draft.kind"), (otherKind.Error?.Code, otherKind.Error?.Field));
        Assert.Single(_host.Store.Events("retired:stored"));
    }

    [Fact]
    public async Task Submit_RefusedTextUnderAnIdStoredWithAnotherText_RefusedAndTheStoredDraftUnchanged()
    {
        var original = (await _host.Store.SubmitAsync(new NewDraft("reply:stored-other", "reply", "e", "kept words", Sha.Hex("kept words"), null))).Receipt!;

        var response = await _client.SubmitAsync(Draft("reply:stored-other", "bell\u0007"));

        Assert.Equal(ErrorCodes.Invalid, response.Error!.Code);
        Assert.Equal("draft.text", response.Error.Field);
        var stored = _host.Store.Get("reply:stored-other")!;
        Assert.Equal(("kept words", original.Seq), (stored.Text, stored.Seq));
        Assert.Single(_host.Store.Events("reply:stored-other"));
    }

    [Theory]
    [InlineData("line one\r\n\tindented \u00e9\n")]
    [InlineData("👩‍💻 shipped it 👍🏽")]
    [InlineData("\u200bzero-width at the start\u2060")]
    [InlineData("flag 🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F")]
    public async Task Submit_VisibleTextWithTabsLineBreaksAndJoiners_StoredAsGiven(string text)
    {
        var response = await _client.SubmitAsync(Draft("reply:visible", text) with { Agent = "👩‍💻 engager \u200e" });

        Assert.True(response.Ok, response.Error?.Message);
        Assert.Equal(text, _host.Store.Get("reply:visible")!.Text);
        Assert.Equal(Sha.Hex(text), response.Receipt!.Sha256);
    }

    [Fact]
    public async Task Submit_ContextWithEscapedSurrogatePairsAndEscapes_StoredAndReadBack()
    {
        // Escapes that do decode to text (a pair, a BMP character, an escaped backslash before a u) are not refused.
        const string context = """{"rationale":"\ud83d\ude00 caf\u00e9 \\ud800","\ud83d\udc4d":"\u0041"}""";
        var line = """{"op":"submit","draft":{"id":"reply:ctx-pairs","kind":"reply","agent":"e","text":"t","context":""" + context + "}}";

        var response = PipeClient.ParseResponse((await _client.SendRawAsync(System.Text.Encoding.UTF8.GetBytes(line)))!);

        Assert.True(response.Ok, response.Error?.Message);
        var stored = (await _client.GetAsync("reply:ctx-pairs")).Draft!;
        Assert.Equal("😀 café \\ud800", stored.Context!.Value.GetProperty("rationale").GetString());
        Assert.Equal("A", stored.Context.Value.GetProperty("👍").GetString());
    }

    [Fact]
    public async Task Submit_Stored_LedgerHasSubmittedEventWithHash()
    {
        await _client.SubmitAsync(Draft("post:ledger", "a post", kind: "post"));

        var submitted = Assert.Single(_host.Store.Events("post:ledger"));

        Assert.Equal("submitted", submitted.Type);
        Assert.Equal("agent:outbound-engager", submitted.Actor);
        Assert.Contains(Sha.Hex("a post"), submitted.Details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_Stored_LogEventInTheJsonLogFileCarriesTheDraftId()
    {
        using var dir = new TempDirectory();
        await using (var host = await TestHost.StartAsync(["Serilog:MinimumLevel:Default=Information"], dataDirectory: dir.Path))
        {
            await using var client = await host.ConnectAsync();
            Assert.True((await client.SubmitAsync(Draft("reply:logged", "hello"))).Ok);
        }

        // Stopped: the connection's deferred log ran before the pipe server finished, and the sinks were drained.
        var events = Directory.GetFiles(Path.Combine(dir.Path, "logs"), "approvalbot-*.json")
            .SelectMany(File.ReadAllLines)
            .Select(line => JsonDocument.Parse(line).RootElement.Clone())
            .ToList();
        var stored = Assert.Single(events, e => e.GetProperty("MessageTemplate").GetString()!.StartsWith("Stored {DraftId}", StringComparison.Ordinal));
        Assert.Equal("reply:logged", stored.GetProperty("Properties").GetProperty("DraftId").GetString());
        Assert.Equal(Sha.Hex("hello"), stored.GetProperty("Properties").GetProperty("Sha256").GetString());
    }

    [Fact]
    public async Task Submit_KindDefinedOnlyOnCommandLine_Accepted()
    {
        await using var host = await TestHost.StartAsync(["ApprovalBot:Kinds:thread:MaxLength=10"]);
        await using var client = await host.ConnectAsync();

        var ok = await client.SubmitAsync(Draft("thread:1", "0123456789", kind: "thread"));
        var tooLong = await client.SubmitAsync(Draft("thread:2", "0123456789A", kind: "thread"));

        Assert.True(ok.Ok);
        Assert.Equal("draft.text", tooLong.Error!.Field);
    }
}
