using ApprovalBot.Drafts;

namespace ApprovalBot.Tests.Drafts;

public sealed class DraftViewsTests
{
    [Theory]
    [InlineData("""{"rationale":"a\ud800b"}""")]
    [InlineData("""{"a":{"b":["fine","x\udc00"]}}""")]
    [InlineData("""{"\ud800":"name, not value"}""")]
    public void ReadContext_TextThatIsNotValidUnicode_LeftOutWithTheReason(string stored)
    {
        var (context, error) = DraftViews.ReadContext(stored);

        Assert.Null(context);
        Assert.Equal(DraftViews.UnreadableContext, error);
    }

    [Theory]
    [InlineData("""{"rationale":"\ud83d\ude00 paired, and an escaped backslash: \\ud800"}""", "😀 paired, and an escaped backslash: \\ud800")]
    [InlineData("""{"rationale":"plain"}""", "plain")]
    public void ReadContext_ValidContext_ReturnedWithoutError(string stored, string rationale)
    {
        var (context, error) = DraftViews.ReadContext(stored);

        Assert.Null(error);
        Assert.Equal(rationale, context!.Value.GetProperty("rationale").GetString());
    }

    [Fact]
    public void ReadContext_NoneStored_NeitherContextNorError() => Assert.Equal((null, null), DraftViews.ReadContext(null));

    [Fact]
    public void ReadContext_NotJson_LeftOutWithTheReason() => Assert.Equal((null, DraftViews.ContextNotJson), DraftViews.ReadContext("not json"));

    private static readonly DateTimeOffset At = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);

    private static Draft Executed(long? markedDoneBy, string? markedDoneByName) => new()
    {
        Id = "reply:x", Kind = "reply", Agent = "a", Text = "t", Sha256 = "00", State = DraftState.Executed, StateSince = At.AddMinutes(5),
        ExecAttempts = 1, ExecKey = "ab1-k", ExecError = "timed out", ExecAt = At, MarkedDoneBy = markedDoneBy, MarkedDoneByName = markedDoneByName,
    };

    [Fact]
    public void ToView_DraftMarkedDone_ExecutionSaysByWhomAndWhenOnTheWire()
    {
        var json = System.Text.Json.JsonSerializer.Serialize(new ApprovalBot.Client.Response { Ok = true, Draft = Executed(1001, "Alice").ToView() }, ApprovalBot.Client.ProtocolJson.Responses.Response);

        using var doc = System.Text.Json.JsonDocument.Parse(json);
        var execution = doc.RootElement.GetProperty("draft").GetProperty("execution");
        Assert.Equal("timed out", execution.GetProperty("error").GetString());
        Assert.Equal("""{"by":1001,"by_name":"Alice","at":"2023-11-14T22:18:20+00:00"}""", execution.GetProperty("marked_done").GetRawText());
    }

    [Fact]
    public void ToView_DraftExecutedByARun_NoMarkedDone()
    {
        var json = System.Text.Json.JsonSerializer.Serialize(new ApprovalBot.Client.Response { Ok = true, Draft = Executed(null, null).ToView() }, ApprovalBot.Client.ProtocolJson.Responses.Response);

        Assert.DoesNotContain("marked_done", json, StringComparison.Ordinal);
    }
}
