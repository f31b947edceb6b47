using ApprovalBot.Telegram.Commands;

namespace ApprovalBot.Tests.Telegram;

public sealed class DraftLookupTests
{
    /// <summary>Whatever the approver typed comes back escaped (it is HTML) and bounded (a reply holds 4096 characters).</summary>
    [Theory]
    [InlineData("reply:nope", "reply:nope")]
    [InlineData("<b>&amp;", "&lt;b&gt;&amp;amp;")]
    public void NotFound_TheKeyEscapedInCode(string key, string shown) =>
        Assert.Equal($"No draft <code>{shown}</code> in the store. /pending lists the drafts awaiting a decision.", DraftLookup.NotFound(key));

    [Fact]
    public void NotFound_LongKey_ShortenedTo200Characters()
    {
        var reply = DraftLookup.NotFound(new string('x', 5000));

        Assert.Equal($"No draft <code>{new string('x', 199)}…</code> in the store. /pending lists the drafts awaiting a decision.", reply);
    }
}
