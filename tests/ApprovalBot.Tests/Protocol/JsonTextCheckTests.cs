using System.Text.Json;
using ApprovalBot.Client;

namespace ApprovalBot.Tests.Protocol;

public sealed class JsonTextCheckTests
{
    public static TheoryData<string, string?, JsonTextFaultKind, string> Faults => new()
    {
        // json, root path, kind, reported path: the service reads a request from a null root, approvalctl its --context-json from "$".
        { "\"\\ud800\"", null, JsonTextFaultKind.UnreadableString, "$" },
        { "{\"\\udc00\":1}", null, JsonTextFaultKind.UnreadableName, "$" },
        { "{\"draft\":{\"text\":\"a\\ud800b\"}}", null, JsonTextFaultKind.UnreadableString, "draft.text" },
        { "{\"draft\":{\"context\":{\"\\ude00x\":1}}}", null, JsonTextFaultKind.UnreadableName, "draft.context" },
        { "{\"a\":[1,\"ok\",[\"\\ud83d\"]]}", null, JsonTextFaultKind.UnreadableString, "a[2][0]" },
        { "{\"a\":[1,{\"b\":\"x\\udfff\"}]}", "$", JsonTextFaultKind.UnreadableString, "$.a[1].b" },
        { "{\"o\":{\"\\ude00x\":1}}", "$", JsonTextFaultKind.UnreadableName, "$.o" },
        { "[\"ok\",\"\\udc00\"]", "", JsonTextFaultKind.UnreadableString, "[1]" },
    };

    [Theory]
    [MemberData(nameof(Faults))]
    public void FirstFault_TextThatIsNotValidUnicode_NamesItsKindAndPath(string json, string? root, JsonTextFaultKind kind, string path)
    {
        var fault = JsonTextCheck.FirstFault(JsonElement.Parse(json), root);

        Assert.Equal(new JsonTextFault(kind, path), fault);
        Assert.True(JsonTextCheck.HoldsUnreadableText(JsonElement.Parse(json)));
    }

    [Theory]
    [InlineData("{\"rationale\":\"\\ud83d\\ude00 caf\\u00e9 \\\\ud800\",\"\\ud83d\\udc4d\":\"\\u0041\"}")]
    [InlineData("[1,true,null,{\"a\":[\"x\"]}]")]
    [InlineData("\"plain\"")]
    [InlineData("{\"a\":1,\"a\":2}")]
    public void FirstFault_ValidText_None(string json)
    {
        Assert.Null(JsonTextCheck.FirstFault(JsonElement.Parse(json), "$"));
        Assert.False(JsonTextCheck.HoldsUnreadableText(JsonElement.Parse(json)));
    }

    [Theory]
    [InlineData("{\"a\":1,\"a\":2}", "$", "a")]
    [InlineData("{\"o\":{\"k\":1,\"\\u006b\":2}}", "$.o", "k")]
    [InlineData("{\"list\":[{},{\"x\":1,\"y\":{},\"x\":2}]}", "$.list[1]", "x")]
    public void FirstFault_RepeatedNamesAsked_NamesTheObjectAndTheName(string json, string path, string name)
    {
        var fault = JsonTextCheck.FirstFault(JsonElement.Parse(json), "$", repeatedNames: true);

        Assert.Equal(new JsonTextFault(JsonTextFaultKind.RepeatedName, path, name), fault);
    }

    [Theory]
    // Document order decides: what comes first is reported, whichever kind it is.
    [InlineData("{\"\\ud800\":1,\"a\":1,\"a\":2}", JsonTextFaultKind.UnreadableName, "$")]
    [InlineData("{\"a\":1,\"a\":\"\\ud800\"}", JsonTextFaultKind.RepeatedName, "$")]
    [InlineData("{\"a\":\"\\ud800\",\"a\":2}", JsonTextFaultKind.UnreadableString, "$.a")]
    public void FirstFault_TwoFaults_TheFirstInDocumentOrder(string json, JsonTextFaultKind kind, string path)
    {
        var fault = JsonTextCheck.FirstFault(JsonElement.Parse(json), "$", repeatedNames: true);

        Assert.Equal(kind, fault!.Value.Kind);
        Assert.Equal(path, fault.Value.Path);
    }
}
