using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ApprovalBot.Client;

namespace ApprovalBot.Tests.Protocol;

public sealed class ProtocolJsonTests
{
    private static JsonObject Draft(JsonNode schema) => schema["properties"]!["draft"]!.AsObject();

    [Fact]
    public void SubmitRequestSchema_DraftProperties_CarryTheContract()
    {
        var schema = ProtocolJson.SubmitRequestSchema();
        var draft = Draft(schema);

        Assert.Equal(ProtocolJson.IdPattern, (string?)draft["properties"]!["id"]!["pattern"]);
        Assert.Equal(1, (int?)draft["properties"]!["text"]!["minLength"]);
        Assert.Equal(1, (int?)draft["properties"]!["kind"]!["minLength"]);
        Assert.Equal(["object", "null"], draft["properties"]!["context"]!["type"]!.AsArray().Select(t => (string?)t));
        Assert.Equal(["agent", "id", "kind", "text"], draft["required"]!.AsArray().Select(t => (string?)t).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void SubmitRequestSchema_AgentAndText_StateTheServiceRules()
    {
        var properties = Draft(ProtocolJson.SubmitRequestSchema())["properties"]!;

        Assert.Equal(200, (int?)properties["agent"]!["maxLength"]);
        Assert.Equal(ProtocolJson.VisiblePattern, (string?)properties["agent"]!["pattern"]);
        Assert.Equal(ProtocolJson.AgentControlPattern, (string?)properties["agent"]!["not"]!["pattern"]);
        Assert.Equal(ProtocolJson.VisiblePattern, (string?)properties["text"]!["pattern"]);
        Assert.Equal(ProtocolJson.TextControlPattern, (string?)properties["text"]!["not"]!["pattern"]);
        Assert.Null(properties["text"]!["maxLength"]);
        Assert.Contains("whitespace", (string?)properties["text"]!["description"]);
        Assert.Contains("control", (string?)properties["text"]!["description"]);
    }

    [Fact]
    public void VisiblePattern_EveryCharacter_MatchesExactlyTheOnesTheServiceCountsAsVisible()
    {
        // The service refuses a text or agent made only of invisible characters; the pattern must match a text iff one is visible.
        for (var c = 0; c <= char.MaxValue; c++)
        {
            if (char.IsSurrogate((char)c)) continue;
            var visible = !ApprovalBot.Pipe.Operations.DraftTextRules.IsInvisible(new System.Text.Rune(c));
            Assert.True(Regex.IsMatch(((char)c).ToString(), ProtocolJson.VisiblePattern) == visible, $"U+{c:X4}");
        }
        Assert.DoesNotMatch(ProtocolJson.VisiblePattern, " \t\r\n\u00a0\u3000\u2028\u200b\ufeff\u2060\u00ad\u0000\u2800");
        Assert.Matches(ProtocolJson.VisiblePattern, "  x  ");
        Assert.Matches(ProtocolJson.VisiblePattern, "😀");
    }

    [Fact]
    public void ControlPatterns_EveryCharacter_MatchExactlyTheOnesTheServiceRefuses()
    {
        for (var c = 0; c <= char.MaxValue; c++)
        {
            if (char.IsSurrogate((char)c)) continue;
            var value = "x" + (char)c;
            var refusedInText = ApprovalBot.Pipe.Operations.DraftTextRules.Problem(value, name: false) is { } t && t.StartsWith("contains", StringComparison.Ordinal);
            var refusedInAgent = ApprovalBot.Pipe.Operations.DraftTextRules.Problem(value, name: true) is { } a && a.StartsWith("contains", StringComparison.Ordinal);
            Assert.True(Regex.IsMatch(value, ProtocolJson.TextControlPattern) == refusedInText, $"text U+{c:X4}");
            Assert.True(Regex.IsMatch(value, ProtocolJson.AgentControlPattern) == refusedInAgent, $"agent U+{c:X4}");
        }
    }

    public static TheoryData<string, string> RequestStrings => new()
    {
        { "plain", "\"plain\"" },
        { "é Привет 漢字 😀 <b>&</b> '", "\"é Привет 漢字 😀 <b>&</b> '\"" },
        { "\" \\ /", "\"\\\" \\\\ /\"" },
        { "\n\r\t\b\f\0\u001f", "\"\\n\\r\\t\\b\\f\\u0000\\u001f\"" },
        { "\u007f\u0085\u009f\u00a0", "\"\\u007f\\u0085\\u009f\u00a0\"" },
        { "\u2028\u2029", "\"\\u2028\\u2029\"" },
        // Not UTF-16: the unpaired half is replaced (raw U+FFFD), as UTF-8 cannot carry it.
        { "half \ud800 surrogate", "\"half \ufffd surrogate\"" },
    };

    [Theory]
    [MemberData(nameof(RequestStrings))]
    public void Requests_String_EscapesOnlyWhatAJsonLineNeeds(string value, string expected)
    {
        var line = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new GetRequest { Id = value }, ProtocolJson.RequestContext.GetRequest);

        Assert.Equal("{\"op\":\"get\",\"id\":" + expected + "}", System.Text.Encoding.UTF8.GetString(line));
        Assert.DoesNotContain((byte)'\n', line);
        Assert.DoesNotContain((byte)'\r', line);
    }

    [Fact]
    public void Requests_ContextObject_RewrittenWithTheSameEscaping()
    {
        var context = System.Text.Json.JsonElement.Parse("""{ "r\u00e9" : "\u00e9\ud83d\ude00\n\u2028\/" }""");
        var draft = new DraftSubmission { Id = "a", Kind = "k", Agent = "g", Text = "t", Context = context };

        var line = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new SubmitRequest { Draft = draft }, ProtocolJson.RequestContext.SubmitRequest);

        Assert.EndsWith(""","context":{"ré":"é😀\n\u2028/"}}}""", System.Text.Encoding.UTF8.GetString(line));
    }

    [Fact]
    public void SubmitRequestSchema_UnknownMembers_RefusedAtEveryLevel()
    {
        var schema = ProtocolJson.SubmitRequestSchema();

        Assert.False((bool?)schema["additionalProperties"]);
        Assert.False((bool?)Draft(schema)["additionalProperties"]);
        Assert.Equal("submit", (string?)schema["properties"]!["op"]!["const"]);
    }

    public static TheoryData<string, bool> Ids => new()
    {
        { "reply:hwchase17:2036566373820932605", true },
        { "a", true },
        { "x@y.z/_-:9", true },
        { new string('a', 200), true },
        { "", false },
        { new string('a', 201), false },
        { "reply a", false },
        { "reply:a\n", false },
        { "reply:a\r\n", false },
        { new string('a', 200) + "\n", false },
        { "\nreply:a", false },
    };

    [Theory]
    [MemberData(nameof(Ids))]
    public void IdPatternDotNet_Id_MatchesExactlyTheIdsOfTheContract(string id, bool valid)
    {
        Assert.Equal(valid, Regex.IsMatch(id, ProtocolJson.IdPatternDotNet));
    }

    [Fact]
    public void IdPatterns_SchemaAndService_SameRuleInEachDialect()
    {
        // ECMA-262 (JSON Schema's dialect) and .NET read `^` and the class alike; they differ on `$`: without the
        // multiline flag it is the end of the input in ECMA-262 (so "reply:a\n" fails there, checked with node), while
        // .NET's `$` also matches before a final "\n". The schema's `$` is therefore the service's `\z`.
        Assert.Equal("^" + ProtocolJson.IdCharacters + "$", ProtocolJson.IdPattern);
        Assert.Equal(ProtocolJson.IdPattern[..^1], ProtocolJson.IdPatternDotNet[..^2]);
        Assert.EndsWith("\\z", ProtocolJson.IdPatternDotNet, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"[$^]|\\[zZA]|\(\?", ProtocolJson.IdCharacters);
    }

    [Fact]
    public void Lenient_ResponseWithFieldsFromANewerService_StillParses()
    {
        var response = PipeClient.ParseResponse("""{"ok":true,"version":"9.9","shiny_new_field":{"x":1}}""");

        Assert.True(response.Ok);
        Assert.Equal("9.9", response.Version);
    }

    /// <summary>
    /// A fail left at its defaults is written as before: a service older than may_have_taken_effect refuses the field as
    /// unknown, so only an agent that sets it sends it.
    /// </summary>
    [Fact]
    public void FailRequest_MayHaveTakenEffectOnlyWrittenWhenSet()
    {
        var plain = JsonSerializer.Serialize(new FailRequest { Id = "reply:1", Lease = "l", Error = "e", Retryable = true }, ProtocolJson.RequestContext.FailRequest);
        var maybe = JsonSerializer.Serialize(new FailRequest { Id = "reply:1", Lease = "l", Error = "e", MayHaveTakenEffect = true }, ProtocolJson.RequestContext.FailRequest);

        Assert.Equal("""{"op":"fail","id":"reply:1","lease":"l","error":"e","retryable":true}""", plain);
        Assert.Equal("""{"op":"fail","id":"reply:1","lease":"l","error":"e","may_have_taken_effect":true}""", maybe);
    }
}
