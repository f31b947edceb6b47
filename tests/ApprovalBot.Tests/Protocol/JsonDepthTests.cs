using System.Text;
using System.Text.Json;
using ApprovalBot.Client;

namespace ApprovalBot.Tests.Protocol;

public sealed class JsonDepthTests
{
    [Theory]
    [InlineData("1", 0)]
    [InlineData("\"[{\"", 0)]
    [InlineData("{}", 1)]
    [InlineData("[]", 1)]
    [InlineData("""{"a":1,"b":[2,{"c":[]}],"d":{}}""", 4)]
    [InlineData("""[[1],[[2]],3]""", 3)]
    public void Of_TextAndParsedElement_CountTheSameLevelsItselfIncluded(string json, int depth)
    {
        Assert.Equal(depth, JsonDepth.Of(Encoding.UTF8.GetBytes(json)));
        Assert.Equal(depth, JsonDepth.Of(JsonElement.Parse(json)));
    }

    [Fact]
    public void Of_ElementInsideADocument_CountsOnlyItsOwnLevels()
    {
        var request = JsonElement.Parse("""[[[{"context":{"a":[[]]}}]]]""");

        Assert.Equal(3, JsonDepth.Of(request[0][0][0].GetProperty("context")));
    }

    [Fact]
    public void Of_TextFarDeeperThanTheParsersLimit_CountedNotRefused()
    {
        const int depth = 100_000;

        Assert.Equal(depth, JsonDepth.Of(Encoding.UTF8.GetBytes(new string('[', depth) + new string(']', depth))));
    }

    [Fact]
    public void Of_TextThatIsNotJson_Throws()
    {
        Assert.ThrowsAny<JsonException>(() => JsonDepth.Of("{\"a\":"u8));
    }
}
