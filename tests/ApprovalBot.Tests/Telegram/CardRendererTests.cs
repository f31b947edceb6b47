using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Cards;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Telegram;

public sealed class CardRendererTests
{
    private static Draft Draft(string text, DraftState state = DraftState.Pending) => new()
    {
        Id = "reply:<x>&\"y\"",
        Seq = 7,
        Kind = "reply",
        Agent = "agent<1>",
        Text = text,
        Sha256 = Sha.Hex(text),
        State = state,
    };

    [Fact]
    public void Render_Pending_EscapesEverythingAndOffersBothButtons()
    {
        var card = CardRenderer.Render(Draft("a <b> & \"c\""));

        Assert.Contains("a &lt;b&gt; &amp; &quot;c&quot;", card.Html);
        Assert.Contains("<code>reply:&lt;x&gt;&amp;&quot;y&quot;</code>", card.Html);
        Assert.Contains("agent&lt;1&gt;", card.Html);
        Assert.Null(card.Attachment);
        Assert.Equal(["✅ Approve", "❌ Reject"], card.Buttons!.InlineKeyboard.Single().Select(b => b.Text));
    }

    [Fact]
    public void Render_ExactlyAtLimit_NoAttachmentOneOverGetsOne()
    {
        var header = CardRenderer.Render(Draft("")).Html.Length; // ASCII-only header: HTML length >= plain length
        var fits = CardRenderer.Render(Draft(new string('x', 4096 - 200)));
        var tooLong = CardRenderer.Render(Draft(new string('x', 4097)));

        Assert.True(header < 300);
        Assert.Null(fits.Attachment);
        Assert.NotNull(tooLong.Attachment);
    }

    [Fact]
    public void Render_PreviewNeverSplitsSurrogatePair()
    {
        var text = string.Concat(Enumerable.Repeat("🎉", 5000));

        var card = CardRenderer.Render(Draft(text));

        Assert.NotNull(card.Attachment);
        Assert.DoesNotContain('\uFFFD', card.Html);
        var preview = card.Html;
        for (var i = 0; i < preview.Length; i++)
        {
            if (char.IsHighSurrogate(preview[i]))
            {
                Assert.True(i + 1 < preview.Length && char.IsLowSurrogate(preview[i + 1]));
            }
        }
    }

    [Fact]
    public void Render_Decided_StatusLineAndNoButtons()
    {
        var draft = Draft("t", DraftState.Executed) with
        {
            Decision = "approved",
            DecidedByName = "Alice",
            ExecAt = new DateTimeOffset(2026, 1, 1, 10, 33, 0, TimeSpan.Zero),
            ExecResult = "posted",
        };

        var card = CardRenderer.Render(draft);

        Assert.Null(card.Buttons);
        Assert.StartsWith("<b>✅ Approved by Alice</b> · 📤 Executed 10:33 · posted", card.Html);
    }
}
