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
}
