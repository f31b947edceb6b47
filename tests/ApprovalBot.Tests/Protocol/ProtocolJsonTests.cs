using System.Text.Json.Nodes;
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

    [Fact]
    public void Lenient_ResponseWithFieldsFromANewerService_StillParses()
    {
        var response = PipeClient.ParseResponse("""{"ok":true,"version":"9.9","shiny_new_field":{"x":1}}""");

        Assert.True(response.Ok);
        Assert.Equal("9.9", response.Version);
    }
}
