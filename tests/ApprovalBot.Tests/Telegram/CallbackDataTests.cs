using System.Text;
using ApprovalBot.Telegram.Cards;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Telegram;

public sealed class CallbackDataTests
{
    [Theory]
    [InlineData("Approve")]
    [InlineData("Reject")]
    [InlineData("Retry")]
    [InlineData("Discard")]
    [InlineData("MarkDone")]
    [InlineData("ResendCard")]
    public void ToString_LargestSeq_RoundTripsWithin64Bytes(string actionName)
    {
        var action = Enum.Parse<CallbackAction>(actionName);
        var data = CallbackData.For(action, long.MaxValue, Sha.Hex("x")).ToString();

        Assert.True(Encoding.UTF8.GetByteCount(data) <= 64);
        Assert.True(CallbackData.TryParse(data, out var parsed));
        Assert.Equal((action, long.MaxValue, Sha.Hex("x")[..16]), (parsed.Action, parsed.Seq, parsed.HashPrefix));
        Assert.True(parsed.Matches(Sha.Hex("x")));
        Assert.False(parsed.Matches(Sha.Hex("y")));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("a:1")]
    [InlineData("a:0:0123456789abcdef")]
    [InlineData("a:-1:0123456789abcdef")]
    [InlineData("a:1:0123456789abcde")]
    [InlineData("a:1:0123456789abcdeg")]
    [InlineData("a: 1:0123456789abcdef")]
    [InlineData("a:1:0123456789abcdef:x")]
    [InlineData("a:1:0123456789abcdef:5")]
    [InlineData("ed:1:0123456789abcdef:5")]
    [InlineData("er:1:0123456789abcdef:-5")]
    [InlineData("er:1:0123456789abcdef:")]
    [InlineData("er:1:0123456789abcdef:5:6")]
    [InlineData("ec:1:0123456789abcdef:5")]
    [InlineData("ec:1")]
    // Not as a button writes its numbers: refused as forged, not read as the button it resembles.
    [InlineData("a:01:0123456789abcdef")]
    [InlineData("r:007:0123456789abcdef")]
    [InlineData("a:00:0123456789abcdef")]
    [InlineData("er:1:0123456789abcdef:01767225600000")]
    [InlineData("em:01:0123456789abcdef:1767225600000")]
    public void TryParse_Malformed_False(string? data) => Assert.False(CallbackData.TryParse(data, out _));

    [Theory]
    [InlineData("Retry")]
    [InlineData("MarkDone")]
    public void ToString_EscalationActionWithStateSince_RoundTripsWithin64Bytes(string actionName)
    {
        var action = Enum.Parse<CallbackAction>(actionName);
        var data = (CallbackData.For(action, long.MaxValue, Sha.Hex("x")) with { StateSinceMs = long.MaxValue }).ToString();

        Assert.True(Encoding.UTF8.GetByteCount(data) <= 64, data);
        Assert.True(CallbackData.TryParse(data, out var parsed));
        Assert.Equal((action, long.MaxValue, long.MaxValue), (parsed.Action, parsed.Seq, parsed.StateSinceMs));
        Assert.True(CallbackData.TryParse(CallbackData.For(action, 1, Sha.Hex("x")).ToString(), out var legacy));
        Assert.Null(legacy.StateSinceMs);
    }
}
