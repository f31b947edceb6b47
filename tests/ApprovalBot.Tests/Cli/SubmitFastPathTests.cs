using System.Text;
using System.Text.Json;
using ApprovalBot.Cli;
using ApprovalBot.Client;

namespace ApprovalBot.Tests.Cli;

/// <summary>
/// The hand-written request writer and response reader of approvalctl's submit fast path, checked against
/// System.Text.Json and the Client's own contract: same request fields, same receipt, and a fallback (null)
/// for every shape the fast path does not handle.
/// </summary>
public sealed class SubmitFastPathTests
{
    [Theory]
    [InlineData("Hello")]
    [InlineData("quote \" backslash \\ slash / tab \t newline \n cr \r nul \0 bell \a")]
    [InlineData("emoji 😀 accents é ü and CJK 漢字, U+2028 \u2028 and DEL \u007f")]
    [InlineData("<script>&'+</script>")]
    public void Request_ParsesBackToTheSameDraft(string text)
    {
        var args = new SubmitFastPath.Arguments("reply:x:1", "reply", "agent \"a\"", text, null, null, null, false);

        var line = SubmitFastPath.Request(args, text, """{"rationale":"r ✓","n":[1,2]}""");

        using var doc = JsonDocument.Parse(line);
        var root = doc.RootElement;
        Assert.Equal("submit", root.GetProperty("op").GetString());
        var draft = root.GetProperty("draft");
        Assert.Equal("reply:x:1", draft.GetProperty("id").GetString());
        Assert.Equal("reply", draft.GetProperty("kind").GetString());
        Assert.Equal("agent \"a\"", draft.GetProperty("agent").GetString());
        Assert.Equal(text, draft.GetProperty("text").GetString());
        Assert.Equal("r ✓", draft.GetProperty("context").GetProperty("rationale").GetString());
        // The strict contract accepts it as is.
        var request = JsonSerializer.Deserialize(line, ProtocolJsonContext.Default.SubmitRequest)!;
        Assert.Equal(text, request.Draft.Text);
    }

    [Fact]
    public void Request_UnpairedSurrogate_LeftToTheSerializer()
    {
        var text = "broken \ud800 half";
        var args = new SubmitFastPath.Arguments("reply:x:2", "reply", "a", text, null, null, null, false);

        var line = SubmitFastPath.Request(args, text, null);

        var expected = JsonSerializer.SerializeToUtf8Bytes(new SubmitRequest { Draft = new DraftSubmission { Id = "reply:x:2", Kind = "reply", Agent = "a", Text = text } }, ProtocolJsonContext.Default.SubmitRequest);
        Assert.Equal(JsonDocument.Parse(expected).RootElement.GetProperty("draft").GetProperty("text").GetString(),
            JsonDocument.Parse(line).RootElement.GetProperty("draft").GetProperty("text").GetString());
    }

    [Theory]
    [InlineData("""{"ok":true,"receipt":{"id":"reply:a:1","seq":42,"sha256":"ab12","state":"pending","duplicate":false}}""")]
    [InlineData("""{"ok":true,"receipt":{"id":"reply:a\/1\u0041","seq":9007199254740993,"sha256":"ab12","state":"carded","duplicate":true,"new_field":{"x":null}},"version":"1"}""")]
    [InlineData(""" { "receipt" : { "duplicate" : true , "state" : "pending" , "sha256" : "x" , "seq" : 1 , "id" : "i" } , "ok" : true } """)]
    public void TryReadReceipt_AgreesWithTheContract(string line)
    {
        var expected = PipeClient.ParseResponse(line).Receipt;

        Assert.Equal(expected, SubmitFastPath.TryReadReceipt(line));
    }

    [Theory]
    [InlineData("""{"ok":false,"error":{"code":"invalid","message":"must not be empty","field":"draft.text"}}""")]
    [InlineData("""{"ok":true}""")]
    [InlineData("""{"ok":true,"receipt":{"id":"a","seq":1.5,"sha256":"x","state":"pending","duplicate":false}}""")]
    [InlineData("""{"ok":true,"receipt":{"id":"a","seq":1,"sha256":"x","state":"pending","duplicate":false},"list":[1]}""")]
    [InlineData("""{"ok":true,"ok":true,"receipt":{"id":"a","seq":1,"sha256":"x","state":"pending","duplicate":false}}""")]
    [InlineData("""{"ok":true,"receipt":{"id":"a","seq":1,"sha256":"x","state":"pending","duplicate":false}} trailing""")]
    [InlineData("""{"ok":true,"receipt":{"id":"a\q","seq":1,"sha256":"x","state":"pending","duplicate":false}}""")]
    [InlineData("not json")]
    [InlineData("")]
    public void TryReadReceipt_AnythingElse_NullForTheFullPath(string line) =>
        Assert.Null(SubmitFastPath.TryReadReceipt(line));

    /// <summary>The line the Client's serializer (PipeClient, and approvalctl's full path) writes for the same draft.</summary>
    private static byte[] ClientLine(string text, string? context) =>
        JsonSerializer.SerializeToUtf8Bytes(new SubmitRequest
        {
            Draft = new DraftSubmission
            {
                Id = "reply:x:3", Kind = "reply", Agent = "agent é", Text = text,
                Context = context is null ? null : JsonElement.Parse(context),
            },
        }, ProtocolJson.RequestContext.SubmitRequest);

    private static byte[] FastLine(string text, string? context) =>
        SubmitFastPath.Request(new SubmitFastPath.Arguments("reply:x:3", "reply", "agent é", text, null, null, null, false), text,
            context is null ? null : SubmitFastPath.ValidatedContext(context));

    [Theory]
    [InlineData("Hello", null)]
    [InlineData("quote \" backslash \\ tab \t newline \n cr \r nul \0 bell \a DEL \u007f C1 \u0085 LS \u2028 PS \u2029", """{"r":"line\nbreak \u2028"}""")]
    [InlineData("Привет, мир! é ü 漢字 😀 <b>&amp;</b> '", """{"rationale":"é😀 <>&'","n":[1,2.50,-3e2,true,null],"o":{"k":"Ж"}}""")]
    [InlineData("escaped in, raw out", """{"r":"\u00e9\ud83d\ude00\/","\u0041":1}""")]
    [InlineData("broken \ud800 half", """{"r":"x"}""")]
    public void Request_SameBytesAsTheClientSerializer(string text, string? context)
    {
        Assert.Equal(Encoding.UTF8.GetString(ClientLine(text, context)), Encoding.UTF8.GetString(FastLine(text, context)));
    }

    [Fact]
    public void Request_EveryBmpCharacter_SameBytesAsTheClientSerializer()
    {
        var text = new StringBuilder();
        for (var c = 0; c <= char.MaxValue; c++)
        {
            if (!char.IsSurrogate((char)c)) text.Append((char)c);
        }
        text.Append("😀𝄞");

        var fast = FastLine(text.ToString(), null);

        Assert.Equal(ClientLine(text.ToString(), null), fast);
        Assert.Equal(text.ToString(), JsonDocument.Parse(fast).RootElement.GetProperty("draft").GetProperty("text").GetString());
    }

    [Fact]
    public void Request_NonAscii_SentAsUtf8NotEscaped()
    {
        const string text = "Привет é 😀";

        var line = Encoding.UTF8.GetString(FastLine(text, """{"r":"\u00e9"}"""));

        Assert.Contains("\"text\":\"Привет é 😀\"", line);
        Assert.Contains("\"context\":{\"r\":\"é\"}", line);
        Assert.DoesNotContain("\\u", line);
    }

    [Fact]
    public void ValidatedContext_MultiLineObject_OneCompactLine()
    {
        const string context = "{\n  \"rationale\": \"asked\\nfor ETA\",\n  \"n\": [ 1, 2 ]\r\n}\n";

        var written = SubmitFastPath.ValidatedContext(context);

        Assert.Equal("""{"rationale":"asked\nfor ETA","n":[1,2]}""", written);
        var line = FastLine("t", context);
        Assert.DoesNotContain((byte)'\n', line);
        Assert.DoesNotContain((byte)'\r', line);
    }

    [Fact]
    public void TryParse_PlainShape_Parsed()
    {
        var parsed = SubmitFastPath.TryParse(["--json", "submit", "--id", "reply:1", "--kind", "reply", "--agent", "a", "--text", "t", "--pipe", "/tmp/x.sock"]);

        Assert.Equal(new SubmitFastPath.Arguments("reply:1", "reply", "a", "t", null, null, "/tmp/x.sock", true), parsed);
    }

    [Theory]
    [InlineData("@hwchase17 thanks")]
    [InlineData("@")]
    [InlineData("@/etc/hostname")]
    public void TryParse_ValueStartingWithAt_TakenAsGiven(string text)
    {
        var parsed = SubmitFastPath.TryParse(["submit", "--id", "reply:1", "--kind", "reply", "--agent", "@agent", "--text", text, "--context-json", "{}"]);

        Assert.Equal(new SubmitFastPath.Arguments("reply:1", "reply", "@agent", text, null, "{}", null, false), parsed);
    }

    [Fact]
    public void TryParse_GlobalOptionsBeforeSubmit_Parsed()
    {
        var parsed = SubmitFastPath.TryParse(["--pipe", "/tmp/x.sock", "--json", "submit", "--id", "reply:1", "--kind", "reply", "--agent", "a", "--text", "t"]);

        Assert.Equal(new SubmitFastPath.Arguments("reply:1", "reply", "a", "t", null, null, "/tmp/x.sock", true), parsed);
    }

    [Theory]
    [InlineData("--id reply:1 submit --kind reply --agent a --text t")]
    [InlineData("--kind reply submit --id reply:1 --agent a --text t")]
    [InlineData("--text t submit --id reply:1 --kind reply --agent a")]
    [InlineData("--json --agent a submit --id reply:1 --kind reply --text t")]
    public void TryParse_SubmitOptionBeforeSubmit_LeftToTheFullParser(string commandLine) =>
        Assert.Null(SubmitFastPath.TryParse(commandLine.Split(' ')));

    [Theory]
    [InlineData("submit --id=reply:1 --kind reply --agent a --text t")]
    [InlineData("submit --id reply:1 --kind reply --agent a --text t --text u")]
    [InlineData("submit --id reply:1 --kind reply --text t")]
    [InlineData("submit --id reply:1 --kind reply --agent a --text -t")]
    [InlineData("submit --id reply:1 --kind reply --agent a --help")]
    [InlineData("submit --id reply:1 --kind reply --agent a --text")]
    [InlineData("get reply:1")]
    [InlineData("submit submit --id reply:1 --kind reply --agent a")]
    [InlineData("submit --id reply:1 --kind reply --agent a @args.rsp")]
    public void TryParse_OtherShapes_LeftToTheFullParser(string commandLine) =>
        Assert.Null(SubmitFastPath.TryParse(commandLine.Split(' ')));
}

/// <summary>The blocking exchange the approvalctl process uses, against the real pipe server (run on a thread of its own).</summary>
public sealed class SubmitFastPathExchangeTests
{
    [Fact]
    public async Task Exchange_Blocking_StoresAndAnswersLikeTheAsyncPath()
    {
        await using var host = await ApprovalBot.Tests.Infrastructure.TestHost.StartAsync();
        var caller = new ServiceCaller(host.PipeName, json: false, TextWriter.Null);
        var args = new SubmitFastPath.Arguments("reply:fast:1", "reply", "a", "Hello ✓", null, null, host.PipeName, false);

        var line = await Task.Factory.StartNew(() => caller.Exchange(SubmitFastPath.Request(args, "Hello ✓", null)), TaskCreationOptions.LongRunning);

        var receipt = SubmitFastPath.TryReadReceipt(line);
        Assert.NotNull(receipt);
        Assert.Equal(PipeClient.ParseResponse(line).Receipt, receipt);
        Assert.Equal(ApprovalBot.Tests.Infrastructure.Sha.Hex("Hello ✓"), receipt.Sha256);
        Assert.Equal("Hello ✓", host.Store.Get("reply:fast:1")!.Text);
    }

    [Fact]
    public async Task Exchange_Blocking_NoService_Unavailable()
    {
        using var dir = new ApprovalBot.Tests.Infrastructure.TempDirectory();
        var caller = new ServiceCaller(dir.Combine("none.sock"), json: false, TextWriter.Null);

        var error = await Assert.ThrowsAsync<CliException>(() => Task.Factory.StartNew(() => caller.Exchange("{}"u8.ToArray()), TaskCreationOptions.LongRunning));

        Assert.Equal(ExitCodes.Unavailable, error.ExitCode);
    }

    [Fact]
    public async Task Exchange_Blocking_NoSocketFile_UnavailableAtOnceSayingTheServiceIsNotRunning()
    {
        using var dir = new ApprovalBot.Tests.Infrastructure.TempDirectory();
        var path = dir.Combine("none.sock");
        var caller = new ServiceCaller(path, json: false, TextWriter.Null);

        var error = await Assert.ThrowsAsync<CliException>(() => Task.Factory.StartNew(() => caller.Exchange("{}"u8.ToArray()), TaskCreationOptions.LongRunning));

        Assert.Equal(ExitCodes.Unavailable, error.ExitCode);
        Assert.StartsWith($"the service is not running at '{path}': no socket file there.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Exchange_Blocking_ServiceNeverAnswers_UnavailableAfterTheResponseTimeout()
    {
        await using var peer = ApprovalBot.Tests.Infrastructure.SilentPipePeer.Start();
        var caller = new ServiceCaller(peer.Path, json: false, TextWriter.Null, responseTimeout: TimeSpan.FromMilliseconds(200));

        var error = await Assert.ThrowsAsync<CliException>(() => Task.Factory.StartNew(() => caller.Exchange("""{"op":"ping"}"""u8.ToArray()), TaskCreationOptions.LongRunning));

        Assert.Equal(ExitCodes.Unavailable, error.ExitCode);
        Assert.Contains("no answer from the service", error.Message);
    }
}
