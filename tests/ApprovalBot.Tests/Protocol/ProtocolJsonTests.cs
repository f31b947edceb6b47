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
}
