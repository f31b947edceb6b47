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

    /// <summary>
    /// A draft whose text is missing from the store, or is not the text its hash was taken of: no Approve (an approval of
    /// it would bind the stored hash to a text the approver never saw), Reject stays, and the card says why.
    /// </summary>
    [Theory]
    [InlineData(true, "⚠️ Its text is missing from the store: it can only be rejected")]
    [InlineData(false, "⚠️ Its text does not match the stored SHA-256: it can only be rejected")]
    public void Render_AwaitingWithTextMissingOrChanged_RejectOnlyAndSaysWhy(bool missing, string status)
    {
        foreach (var state in new[] { DraftState.Pending, DraftState.Carded })
        {
            var draft = Draft("the text shown") with { State = state };
            draft = missing ? draft with { Text = null } : draft with { Text = "other words" };

            var card = CardRenderer.Render(draft);

            Assert.Equal(["❌ Reject"], card.Buttons!.InlineKeyboard.Single().Select(b => b.Text));
            Assert.StartsWith("<b>" + status + "</b>\n\n", card.Html, StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// A changed text as long as a full-text card allows: its line fits the room the card keeps for a status line, whole.
    /// Before the fix it was 88 characters against 80 kept, and was cut mid-word.
    /// </summary>
    [Fact]
    public void Render_TextChangedAtTheLimit_TheWholeLineFits()
    {
        var header = CardRenderer.Render(Draft("")).Length;
        var draft = Draft(new string('x', 4096 - header - 2 - CardRenderer.StatusRoom), DraftState.Carded) with { Sha256 = Sha.Hex("other words") };
        Assert.True(CardRenderer.ShowsFullText(draft));

        var card = CardRenderer.Render(draft);

        Assert.True(card.Length <= 4096, card.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.StartsWith("<b>⚠️ Its text ", card.Html, StringComparison.Ordinal);
        Assert.Contains(": it can only be rejected</b>\n\n", card.Html, StringComparison.Ordinal);
        Assert.EndsWith(draft.Text!, card.Html, StringComparison.Ordinal);
    }

    private static readonly DateTimeOffset WithdrawnAt = new(2026, 11, 24, 9, 30, 0, TimeSpan.Zero);

    private static Draft Withdrawn(Draft d, string? reason) =>
        d with { State = DraftState.Cancelled, StateSince = WithdrawnAt, CancelledBy = ApprovalBot.Drafts.Draft.CancelledByAgent, CancelReason = reason };

    private static Draft Approved(Draft d) =>
        d with { Decision = "approved", DecidedBy = 1001, DecidedByName = "Alice", DecidedAt = WithdrawnAt.AddHours(-1), DecisionSha256 = d.Sha256 };

    /// <summary>
    /// Withdrawn by its agent: the card says who and why, in words of its own, never as the approver's Discard; the reason is
    /// HTML-escaped like every other value.
    /// </summary>
    [Theory]
    [InlineData(false, "the <thread> & all was deleted", "🚫 Withdrawn by the agent at 2026-11-24 09:30 UTC: the &lt;thread&gt; &amp; all was deleted")]
    [InlineData(false, null, "🚫 Withdrawn by the agent at 2026-11-24 09:30 UTC")]
    [InlineData(true, "superseded", "<b>✅ Approved by Alice</b> · 🚫 Withdrawn by the agent at 2026-11-24 09:30 UTC: superseded")]
    public void Render_WithdrawnByTheAgent_NoButtonsAndStatusSaysWhoAndWhy(bool approvedFirst, string? reason, string status)
    {
        var draft = Draft("obsolete reply");
        var card = CardRenderer.Render(Withdrawn(approvedFirst ? Approved(draft) : draft, reason));

        Assert.Null(card.Buttons);
        Assert.StartsWith(status + "\n\n", card.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("🗑", card.Html, StringComparison.Ordinal);
        Assert.Contains("obsolete reply", card.Html, StringComparison.Ordinal);
    }

    /// <summary>The approver's Discard (no one named as withdrawing it) keeps its own words, on a decided and an undecided draft.</summary>
    [Theory]
    [InlineData(true, "<b>✅ Approved by Alice</b> · 🗑 Discarded")]
    [InlineData(false, "🗑 Cancelled")]
    public void Render_DiscardedByTheApprover_NotShownAsWithdrawn(bool approvedFirst, string status)
    {
        var draft = Draft("obsolete reply");
        var discarded = (approvedFirst ? Approved(draft) : draft) with { State = DraftState.Cancelled, StateSince = WithdrawnAt };

        var card = CardRenderer.Render(discarded);

        Assert.StartsWith(status + "\n\n", card.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("Withdrawn", card.Html, StringComparison.Ordinal);
    }

    /// <summary>A long reason is shortened on the card (the ledger and the draft view keep it whole); the text never is.</summary>
    [Fact]
    public void Render_WithdrawnWithTheLongestReason_StatusShortenedTextWhole()
    {
        var text = new string('t', 3900);
        var card = CardRenderer.Render(Withdrawn(Draft(text), new string('r', 500)));

        Assert.True(card.Length <= 4096, $"{card.Length} characters");
        Assert.Contains(text, card.Html, StringComparison.Ordinal);
        Assert.Contains("🚫 Withdrawn by the agent at 2026-11-24 09:30 UTC: rrr", card.Html, StringComparison.Ordinal);
        Assert.Contains("…", card.Html, StringComparison.Ordinal);
    }

    /// <summary>An expired card says when, and that nobody decided: "⌛ Expired" alone read like a decision taken.</summary>
    [Fact]
    public void Render_Expired_NoButtonsAndStatusSaysWhenWithoutADecision()
    {
        var expired = Draft("too late") with { State = DraftState.Expired, StateSince = new DateTimeOffset(2026, 11, 24, 9, 30, 0, TimeSpan.Zero) };

        var card = CardRenderer.Render(expired);

        Assert.Null(card.Buttons);
        Assert.StartsWith("⌛ Expired at 2026-11-24 09:30 UTC without a decision\n\n", card.Html, StringComparison.Ordinal);
        Assert.Contains("too late", card.Html, StringComparison.Ordinal);
    }

    /// <summary>A card sent again below keeps its text but no buttons, and leads with where to decide now.</summary>
    [Fact]
    public void RenderSuperseded_AwaitingDecision_NoButtonsAndPointsToTheNewerCard()
    {
        var card = CardRenderer.RenderSuperseded(Draft("still waiting", DraftState.Carded), new DateTimeOffset(2026, 11, 24, 9, 30, 0, TimeSpan.Zero));

        Assert.Null(card.Buttons);
        Assert.StartsWith("<b>🔁 Sent again below at 2026-11-24 09:30 UTC: decide on the newer card</b>\n\n", card.Html, StringComparison.Ordinal);
        Assert.EndsWith("still waiting", card.Html, StringComparison.Ordinal);
    }

    /// <summary>The line fits the room a full-text card keeps for a status line: the text, every character of it, stays.</summary>
    [Fact]
    public void RenderSuperseded_FullTextCardAtTheLimit_KeepsTheTextAndFits()
    {
        var header = CardRenderer.Render(Draft("")).Length;
        var pending = Draft(new string('x', 4096 - header - 2 - CardRenderer.StatusRoom), DraftState.Carded);
        Assert.True(CardRenderer.ShowsFullText(pending));

        var card = CardRenderer.RenderSuperseded(pending, DateTimeOffset.UnixEpoch);

        Assert.True(card.Length <= 4096, card.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains("decide on the newer card</b>", card.Html, StringComparison.Ordinal);
        Assert.EndsWith(pending.Text!, card.Html, StringComparison.Ordinal);
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

    /// <summary>
    /// An unknown outcome an approver marked done: no run succeeded, so the card says who settled it and when (the time it
    /// was marked done, not the attempt that was cut off), the name escaped like every other value. A draft marked done
    /// before the name was kept names the approver by id, or nobody in particular when the ledger named no one (0).
    /// </summary>
    [Theory]
    [InlineData(1002L, "Bob <ops> & \"co\"", "✔️ Marked done by Bob &lt;ops&gt; &amp; &quot;co&quot; at 2026-01-01 11:05 UTC")]
    [InlineData(1002L, null, "✔️ Marked done by 1002 at 2026-01-01 11:05 UTC")]
    [InlineData(0L, null, "✔️ Marked done by an approver at 2026-01-01 11:05 UTC")]
    public void Render_MarkedDoneByAnApprover_SaysWhoAndWhenNotExecuted(long by, string? name, string markedDone)
    {
        var draft = Draft("t", DraftState.Executed) with
        {
            Decision = "approved",
            DecidedByName = "Alice",
            ExecAttempts = 1,
            ExecAt = At,
            ExecError = "timed out after 30 s",
            StateSince = At.AddMinutes(32),
            MarkedDoneBy = by,
            MarkedDoneByName = name,
        };

        var card = CardRenderer.Render(draft);

        Assert.Null(card.Buttons);
        Assert.StartsWith("<b>✅ Approved by Alice</b> · " + markedDone + "\n\n", card.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("Executed", card.Html, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_ContextStoredWithTextThatIsNotValidUnicode_CardWithANoteInstead()
    {
        // Such a context can only come from the store as an older build wrote it: submit refuses it now.
        var card = CardRenderer.Render(Draft("the text") with { ContextJson = """{"rationale":"a\ud800b","source_url":"https://example.com/a"}""" });

        Assert.Contains("<i>⚠️ The context of this draft cannot be shown: it holds text that is not valid Unicode.</i>", card.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("Why:", card.Html, StringComparison.Ordinal);
        Assert.EndsWith("the text", card.Html, StringComparison.Ordinal);
        Assert.NotNull(card.Buttons);
    }

    private static readonly DateTimeOffset At = new(2026, 1, 1, 10, 33, 0, TimeSpan.Zero);

    /// <summary>
    /// An error longer than the card's room for it keeps its start (what happened) and its end (a program's last stderr
    /// lines, which say why, and the unknown draft's note), with "…" between. Before, it was cut at the end, and the card
    /// showed the timeout and the first lines of stderr but not the line with the error.
    /// </summary>
    [Fact]
    public void Render_UnknownWithAnErrorLongerThanItsRoom_KeepsItsStartAndItsEnd()
    {
        var stderr = string.Join(" | ", Enumerable.Range(1, 12).Select(i => $"progress line {i} of a chatty run")) + " | fatal: the sink refused the token";
        var error = "timed out after 30s; the program did not exit within 5s of SIGTERM, so its process group was killed (SIGKILL): … " + stderr +
            "; it may or may not have taken effect";
        var draft = Draft("words") with { State = DraftState.Unknown, Decision = "approved", DecidedByName = "Alice", ExecAttempts = 1, ExecError = error };

        var html = CardRenderer.Render(draft).Html;

        Assert.StartsWith("<b>✅ Approved by Alice</b> · ❓ Outcome unknown, check the target: timed out after 30s; the program did not exit", html, StringComparison.Ordinal);
        Assert.Contains("… ", html, StringComparison.Ordinal);
        Assert.Contains("| fatal: the sink refused the token; it may or may not have taken effect\n\n", html, StringComparison.Ordinal);
        var status = html[(html.IndexOf(" · ", StringComparison.Ordinal) + 3)..html.IndexOf("\n\n", StringComparison.Ordinal)];
        Assert.Equal(400, status.Length);
    }

    /// <summary>What a card can turn into after the decision, the longest status lines included.</summary>
    private static IEnumerable<Draft> Decided(Draft d)
    {
        yield return d with { State = DraftState.Approved, Decision = "approved", DecidedByName = "Alice", DecidedAt = At };
        yield return d with { State = DraftState.Rejected, Decision = "rejected", DecidedByName = new string('N', 64) + " " + new string('L', 64) + " (@" + new string('u', 32) + ")", DecidedAt = At };
        yield return d with { State = DraftState.Executed, Decision = "approved", DecidedByName = "Alice", ExecAt = At, ExecAttempts = 1, ExecResult = new string('r', 1000) };
        yield return d with { State = DraftState.Failed, Decision = "approved", DecidedByName = "Alice", ExecAttempts = 3, ExecError = new string('e', 2000) };
        yield return d with
        {
            State = DraftState.Executed, Decision = "approved", DecidedByName = "Alice", ExecAttempts = 1, ExecError = new string('e', 2000),
            MarkedDoneBy = 1002, MarkedDoneByName = new string('N', 64) + " " + new string('L', 64) + " (@" + new string('u', 32) + ")",
        };
        yield return d with { State = DraftState.Cancelled };
    }

    [Fact]
    public void Render_EveryLengthNearTheLimit_DecidedCardKeepsTheLayoutItWasSentWithAndFits()
    {
        for (var length = 4096 - 400; length <= 4096 + 20; length++)
        {
            var pending = Draft(new string('x', length));
            var sent = CardRenderer.Render(pending);
            Assert.True(sent.Length <= 4096, $"{length}: sent {sent.Length}");
            foreach (var later in Decided(pending))
            {
                var edited = CardRenderer.Render(later);

                Assert.True(edited.Length <= 4096, $"{length} {later.State}: edited {edited.Length}");
                Assert.Equal(sent.Attachment is null, edited.Attachment is null);
                Assert.Equal(sent.Html.Contains("attached file", StringComparison.Ordinal), edited.Html.Contains("attached file", StringComparison.Ordinal));
                if (sent.Attachment is null)
                {
                    Assert.EndsWith(pending.Text!, edited.Html, StringComparison.Ordinal);
                }
            }
        }
    }

    [Fact]
    public void Render_TextOf4096Minus20Approved_NeverClaimsAFileThatWasNotSent()
    {
        var pending = Draft(new string('x', 4096 - 20));

        var sent = CardRenderer.Render(pending);
        var approved = CardRenderer.Render(pending with { State = DraftState.Approved, Decision = "approved", DecidedByName = "Alice", DecidedAt = At });

        Assert.NotNull(sent.Attachment);
        Assert.NotNull(approved.Attachment);
        Assert.StartsWith("<b>✅ Approved by Alice</b> at 2026-01-01 10:33 UTC", approved.Html, StringComparison.Ordinal);
        Assert.True(approved.Length <= 4096);
    }

    [Fact]
    public void Render_FullCardWhoseStatusLineOutgrowsTheRoom_StatusShortenedTextKept()
    {
        var header = CardRenderer.Render(Draft("")).Length; // header and separator
        var pending = Draft(new string('x', 4096 - header - 2 - CardRenderer.StatusRoom));
        Assert.True(CardRenderer.ShowsFullText(pending));

        var failed = CardRenderer.Render(pending with { State = DraftState.Failed, Decision = "approved", DecidedByName = "Alice", ExecAttempts = 3, ExecError = new string('e', 2000) });

        Assert.Null(failed.Attachment);
        Assert.Equal(4096, failed.Length);
        Assert.StartsWith("<b>✅ Approved by Alice</b> · ⚠️ Execution failed: eee", failed.Html, StringComparison.Ordinal);
        Assert.Contains("e…\n\n", failed.Html, StringComparison.Ordinal);
        Assert.EndsWith(pending.Text!, failed.Html, StringComparison.Ordinal);
    }
}
