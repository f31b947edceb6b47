using System.Globalization;
using System.Text;
using ApprovalBot.Drafts;
using ApprovalBot.Sandbox;
using ApprovalBot.Telegram.Api;
using ApprovalBot.Telegram.Cards;
using ApprovalBot.Tests.Execution;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Tests.Telegram;

public sealed class CardOutboxTests
{
    [Fact]
    public async Task Card_TextWithMarkupCharactersAndEmoji_DeliveredIntactAndEscaped()
    {
        await using var h = await TelegramHarness.StartAsync();
        const string text = "if a < b && c > d then \"quote\" 'single' <b>not bold</b> &amp; 🎉👍🏽 done";
        await h.SubmitAsync("reply:escape", text, context: new { rationale = "why <i>not</i> & \"so\"", source_url = "https://example.com/a?x=1&y=\"2\"" });

        var card = await h.WaitForCardAsync("reply:escape");

        Assert.EndsWith(text, card.Text);
        Assert.Contains("why <i>not</i> & \"so\"", card.Text);
        Assert.Contains("href=\"https://example.com/a?x=1&amp;y=&quot;2&quot;\"", card.SourceText);
        Assert.DoesNotContain("<b>not bold</b>", card.SourceText);
    }

    [Fact]
    public async Task Card_NonWebSourceUrl_NotRenderedAsLink()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.SubmitAsync("reply:js-link", "text", context: new { source_url = "javascript:alert(1)" });

        var card = await h.WaitForCardAsync("reply:js-link");

        Assert.Contains("javascript:alert(1)", card.Text);
        Assert.DoesNotContain("href", card.SourceText);
    }

    [Fact]
    public async Task Card_TenThousandCharacters_PreviewPlusFullTextDocumentThenApprovable()
    {
        await using var h = await TelegramHarness.StartAsync();
        var text = new StringBuilder();
        while (text.Length < 10_000)
        {
            text.Append("Line ").Append(text.Length).Append(" <tag> & \"q\" 🎉\n");
        }
        var full = text.ToString()[..9_998] + "!";
        var receipt = await h.SubmitAsync("long:1", full, kind: "long");

        var card = await h.WaitForCardAsync("long:1");
        var document = Assert.Single(h.Control.GetMessages(h.ChatId), m => m.Document is not null);

        Assert.Equal(full, Encoding.UTF8.GetString(document.Document!.Content));
        Assert.EndsWith(".txt", document.Document.FileName);
        Assert.True(document.MessageId < card.MessageId, "the full text comes before the buttons");
        Assert.True(card.Text!.Length <= 4096);
        Assert.Contains("attached file", card.Text);
        Assert.Contains(full[..1000], card.Text);

        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        Assert.Equal(receipt.Sha256, h.Host.Store.Get("long:1")!.DecisionSha256);
    }

    /// <summary>
    /// A long draft's file goes out, then Telegram refuses its card: the next attempt sends the file again. Each refused
    /// attempt left one more copy of the full text in the chat; with the text refused and files allowed (a group that took
    /// away the bot's right to send text only) one a sweep, for as long as that lasted. The file of a refused card is deleted.
    /// </summary>
    [Theory]
    [InlineData(400, "Bad Request: not enough rights to send text messages to the chat")]
    [InlineData(403, "Forbidden: bot was kicked from the group chat")]
    public async Task Card_LongDraftsCardFailsAfterItsFileWentOut_OneFileInTheChatOnceTheCardArrives(int code, string description)
    {
        await using var h = await TelegramHarness.StartAsync(["ApprovalBot:Telegram:CardSweepSeconds=1", "ApprovalBot:Telegram:MaxCallRetries=0"]);
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        h.Control.InjectFault("sendMessage", SandboxFault.Error(code, description), times: 3);

        await h.SubmitAsync("long:file-once", new string('x', 9_000), kind: "long");
        await h.WaitForCardAsync("long:file-once");
        await h.WaitForStateAsync("long:file-once", DraftState.Carded);

        Assert.Equal(3, h.Control.GetCalls("sendMessage").Count(c => c.StatusCode == code));
        Assert.Single(h.Control.GetMessages(h.ChatId), m => m.Document is not null);
    }

    [Fact]
    public async Task Card_SendMessageAnswers429_ResentAfterRetryAfterNoCardLost()
    {
        // The client waits on a clock the test moves: the resend is seen waiting retry_after, and comes when the test says.
        var clock = new SignallingClock();
        await using var h = await TelegramHarness.StartAsync(services: s => s.UseClock<TelegramBotClient>(clock));
        var start = clock.GetUtcNow();
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        h.Control.InjectFault("sendMessage", SandboxFault.TooManyRequests(1));

        await h.SubmitAsync("reply:429", "text");
        Assert.Equal(start + TimeSpan.FromSeconds(1), await clock.NextTimerAsync(TelegramHarness.Wait));
        Assert.Equal(429, Assert.Single(h.Control.GetCalls("sendMessage")).StatusCode);
        clock.Advance(TimeSpan.FromSeconds(1));
        var card = await h.WaitForCardAsync("reply:429");
        // The sandbox shows the card before it logs the call that sent it.
        await h.Control.WaitForCallAsync(c => c.Method == "sendMessage" && c.StatusCode == 200, TelegramHarness.Wait);

        Assert.Equal([429, 200], h.Control.GetCalls("sendMessage").Select(c => c.StatusCode));
        var draft = await h.WaitForStateAsync("reply:429", DraftState.Carded);
        Assert.Equal(card.MessageId, draft.CardMessageId);
        Assert.Null(draft.CardError);
    }

    /// <summary>
    /// A 5xx to a card's send may hide a card Telegram posted: the client does not resend it (each resend could post a copy
    /// the service never learns of); the outbox sends it once more after its backoff, as for an answer it could not read.
    /// </summary>
    [Fact]
    public async Task Card_SendMessageAnswers5xx_NotResentByTheClient_SentOnceMoreByTheOutbox()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        h.Control.InjectFault("sendMessage", SandboxFault.Error(502, "Bad Gateway"));

        await h.SubmitAsync("reply:5xx", "text");
        await h.WaitForCardAsync("reply:5xx");

        Assert.Single(h.Control.GetCalls("sendMessage"), c => c.StatusCode == 502);
        var draft = await h.WaitForStateAsync("reply:5xx", DraftState.Carded);
        Assert.Equal(2, draft.CardAttempts);
        var failed = Assert.Single(h.Host.Store.Events("reply:5xx"), e => e.Type == "card_failed");
        Assert.Contains("\"outcome_unknown\":true", failed.Details, StringComparison.Ordinal);
    }

    /// <summary>A card Telegram refuses for itself (its HTML, its length): sending it again gets the same answer.</summary>
    [Fact]
    public async Task Card_RefusedForItself_GivenUpAtOnceRecordedOnDraftNotRetried()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        h.Control.InjectFault("sendMessage", SandboxFault.Error(400, "Bad Request: can't parse entities: unsupported start tag \"x\" at byte offset 0"));

        await h.SubmitAsync("reply:400", "text");

        await Eventually.TrueAsync(() => h.Host.Store.Get("reply:400")!.CardError is not null, "card_error on the draft");
        var draft = h.Host.Store.Get("reply:400")!;
        Assert.Equal(DraftState.Pending, draft.State);
        Assert.Contains("400 Bad Request: can't parse entities", draft.CardError);
        Assert.Contains("gave up", draft.CardError);
        Assert.Null(draft.CardNextAt);
        Assert.Equal(1, draft.CardAttempts);
        Assert.Contains(h.Host.Store.Events("reply:400"), e => e.Type == "card_failed");
    }

    /// <summary>
    /// The approver blocks the bot (or someone removes it from the group) while drafts arrive: Telegram answers every send
    /// into the chat 403. No card is at fault: none is given up (each would need a Retry tap, delivered only once the bot is
    /// back), the draft says why it waits, one send is tried per sweep, the cause is logged at Error once, and once the bot
    /// may post again every card goes out by itself, without a restart.
    /// </summary>
    [Fact]
    public async Task Card_BotRemovedFromTheChat_DraftsWaitNotGivenUpOneTryPerSweepErrorOnceCardsGoOutWhenTheBotIsBack()
    {
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(["ApprovalBot:Telegram:CardSweepSeconds=1"], services: s => s.AddSingleton<ILoggerProvider>(logs));
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        Assert.Equal("Forbidden: bot was blocked by the user", h.Control.RemoveBotFromChat(h.ChatId));
        var removed = System.Diagnostics.Stopwatch.StartNew();

        await h.SubmitAsync("reply:chat-a", "first");
        await h.SubmitAsync("reply:chat-b", "second");
        await Eventually.TrueAsync(() => SendsAnswered(h, 403) >= 4, "four refused sends");

        Assert.True(removed.Elapsed >= TimeSpan.FromSeconds(2), $"sends are paced by the sweep ({removed.Elapsed})");
        foreach (var id in new[] { "reply:chat-a", "reply:chat-b" })
        {
            var draft = h.Host.Store.Get(id)!;
            Assert.Equal(DraftState.Pending, draft.State);
            Assert.Equal(0, draft.CardAttempts);
            Assert.DoesNotContain("gave up", draft.CardError ?? "", StringComparison.Ordinal);
        }
        var waiting = h.Host.Store.Get("reply:chat-a")!;
        Assert.Equal($"403 Forbidden: bot was blocked by the user (chat {h.ChatId} refuses the bot; the card waits until the bot may post there again)", waiting.CardError);
        Assert.NotNull(waiting.CardNextAt);
        var error = Assert.Single(OutboxComplaints(logs), e => e.Level == LogLevel.Error);
        Assert.Equal("ChatRefusesBot", error.EventId.Name);
        Assert.Equal(h.ChatId, Convert.ToInt64(error.Properties["ChatId"], CultureInfo.InvariantCulture));

        h.Control.AddBotToChat(h.ChatId);
        await h.WaitForCardAsync("reply:chat-a");
        await h.WaitForCardAsync("reply:chat-b");
        var carded = await h.WaitForStateAsync("reply:chat-a", DraftState.Carded);
        Assert.Null(carded.CardError);
        Assert.Equal(1, carded.CardAttempts);
        await h.WaitForStateAsync("reply:chat-b", DraftState.Carded);
        Assert.Single(OutboxComplaints(logs), e => e.Level == LogLevel.Error);
        Assert.Single(logs.Entries, e => e.Category == typeof(CardOutbox).FullName && e.Message.Contains("takes the bot's cards again", StringComparison.Ordinal));
    }

    /// <summary>
    /// A forum supergroup whose General topic is closed answers every send "TOPIC_CLOSED" (a topic gone: "message thread
    /// not found"): a refusal of the chat, which an admin undoes, not of the card. The card waits on the chat and goes out
    /// once the topic is open again; it used to be given up at once (card_undelivered).
    /// </summary>
    [Theory]
    [InlineData("Bad Request: TOPIC_CLOSED")]
    [InlineData("Bad Request: message thread not found")]
    public async Task Card_ForumTopicClosed_CardWaitsOnTheChatNotGivenUp(string description)
    {
        await using var h = await TelegramHarness.StartAsync(["ApprovalBot:Telegram:CardSweepSeconds=1"]);
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        h.Control.InjectFault("sendMessage", SandboxFault.Error(400, description), times: 2);

        await h.SubmitAsync("reply:topic", "text");
        await Eventually.TrueAsync(() => SendsAnswered(h, 400) >= 1, "a refused send");
        var waiting = h.Host.Store.Get("reply:topic")!;
        await h.WaitForCardAsync("reply:topic");

        Assert.Equal(DraftState.Pending, waiting.State);
        Assert.DoesNotContain("gave up", waiting.CardError ?? "", StringComparison.Ordinal);
        var carded = await h.WaitForStateAsync("reply:topic", DraftState.Carded);
        Assert.Null(carded.CardError);
        Assert.Equal(2, SendsAnswered(h, 400));
    }

    /// <summary>Every way Telegram refuses the bot in a chat, and only those, keeps the card waiting instead of giving it up.</summary>
    [Theory]
    [InlineData(403, "Forbidden: bot was kicked from the group chat", true)]
    [InlineData(403, "Forbidden: bot is not a member of the channel chat", true)]
    [InlineData(403, "Forbidden: user is deactivated", true)]
    [InlineData(400, "Bad Request: chat not found", true)]
    [InlineData(400, "Bad Request: not enough rights to send text messages to the chat", true)]
    [InlineData(400, "Bad Request: have no rights to send a message", true)]
    [InlineData(400, "Bad Request: need administrator rights in the channel chat", true)]
    [InlineData(400, "Bad Request: TOPIC_CLOSED", true)]
    [InlineData(400, "Bad Request: message thread not found", true)]
    [InlineData(400, "Bad Request: not enough rights to send documents to the chat", false)]
    [InlineData(400, "Bad Request: message is too long", false)]
    [InlineData(400, "Bad Request: can't parse entities: unexpected end tag", false)]
    [InlineData(401, "Unauthorized", false)]
    [InlineData(429, "Too Many Requests: retry after 5", false)]
    [InlineData(502, "Bad Gateway", false)]
    public void IsChatRefused_TelegramsAnswer_TrueOnlyForARefusalOfTheBotInTheChat(int code, string description, bool chatRefused) =>
        Assert.Equal(chatRefused, new ApiRequestException("sendMessage", code, description).IsChatRefused);

    private static int SendsAnswered(TelegramHarness h, int status) => h.Control.GetCalls("sendMessage").Count(c => c.StatusCode == status);

    /// <summary>
    /// The token revoked in BotFather while drafts arrive: Telegram answers every send 401. That is no card's failure: no
    /// draft is given up (each would need a Retry tap once the bot works again), the draft says why it waits, one send is tried
    /// per sweep rather than one per draft, and after a restart with the new token every card goes out by itself.
    /// </summary>
    [Fact]
    public async Task Card_TokenRevokedWhileRunning_DraftsWaitNotGivenUpOneTryPerSweepCardsGoOutAfterRestartWithTheNewToken()
    {
        await using var h = await TelegramHarness.StartAsync(["ApprovalBot:Telegram:CardSweepSeconds=1"]);
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        h.Control.RevokeToken();
        var revoked = System.Diagnostics.Stopwatch.StartNew();

        await h.SubmitAsync("reply:tok-a", "first");
        await h.SubmitAsync("reply:tok-b", "second");
        await Eventually.TrueAsync(() => RefusedSends(h) >= 4, "four refused sends");

        // Four tries of two drafts took at least two sweeps after the first two: one send per sweep, not one per draft,
        // and neither draft given up after one.
        Assert.True(revoked.Elapsed >= TimeSpan.FromSeconds(2), $"sends are paced by the sweep ({revoked.Elapsed})");
        foreach (var id in new[] { "reply:tok-a", "reply:tok-b" })
        {
            var draft = h.Host.Store.Get(id)!;
            Assert.Equal(DraftState.Pending, draft.State);
            Assert.Equal(0, draft.CardAttempts);
            Assert.DoesNotContain("gave up", draft.CardError ?? "", StringComparison.Ordinal);
        }
        Assert.Contains("refuses the bot token", h.Host.Store.Get("reply:tok-a")!.CardError, StringComparison.Ordinal);
        Assert.NotNull(h.Host.Store.Get("reply:tok-a")!.CardNextAt);

        // The operator sets the new token (the harness passes the sandbox's current one) and restarts.
        await h.RestartHostAsync();
        await h.WaitForCardAsync("reply:tok-a");
        await h.WaitForCardAsync("reply:tok-b");
        Assert.Null((await h.WaitForStateAsync("reply:tok-a", DraftState.Carded)).CardError);
        await h.WaitForStateAsync("reply:tok-b", DraftState.Carded);
    }

    /// <summary>
    /// One mistake, one Error: with the token refused, the poller and the outbox both meet it (every poll, every card), and
    /// the operator reads one Error that names the token and the way out, not one from each; the outbox says at a lower
    /// level that cards wait for it.
    /// </summary>
    [Fact]
    public async Task Card_TokenRevokedWhileCardsAndPollsAreRefused_OneErrorForTheTokenNamingTheWayOut()
    {
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(["ApprovalBot:Telegram:CardSweepSeconds=1"], services: s => s.AddSingleton<ILoggerProvider>(logs));
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        h.Control.RevokeToken();
        // An update of a kind the bot ignores ends the pending poll; the next ones carry the old token.
        h.Control.EnqueueRawUpdate("""{"update_id":0,"poll":{"id":"p"}}""");

        await h.SubmitAsync("reply:one-error", "text");
        await Eventually.TrueAsync(
            () => RefusedSends(h) >= 2 && h.Control.GetCalls("getUpdates").Count(c => c.StatusCode == 401) >= 2, "sends and polls refused, twice each");

        var error = Assert.Single(logs.Entries, e => e.Level >= LogLevel.Error);
        Assert.Equal("BotTokenRefused", error.EventId.Name);
        Assert.Contains("401 Unauthorized", error.Message, StringComparison.Ordinal);
        Assert.Contains("ApprovalBot:Telegram:Token", error.Message, StringComparison.Ordinal);
        Assert.Contains("BotFather", error.Message, StringComparison.Ordinal);
        Assert.Single(logs.Entries, e => e.Category == typeof(CardOutbox).FullName && e.Level == LogLevel.Warning
            && e.Message.Contains("Cards wait: Telegram refuses the bot token", StringComparison.Ordinal));
    }

    // A call with a refused token is answered before its parameters are read, so the sandbox records none: a card and an
    // escalation look alike here (no gap is escalated while no card is given up).
    private static int RefusedSends(TelegramHarness h) => h.Control.GetCalls("sendMessage").Count(c => c.StatusCode == 401);

    [Fact]
    public async Task Card_TransientErrorsOutlastCallRetries_RetriedByOutboxWithBackoff()
    {
        // The outbox waits on a clock the test moves: its backoff is seen beginning, and ends when the test says.
        var clock = new SignallingClock();
        await using var h = await TelegramHarness.StartAsync(["ApprovalBot:Telegram:MaxCallRetries=0"], services: s => s.UseClock<CardOutbox>(clock));
        await clock.NextTimerAsync(TelegramHarness.Wait); // the outbox idles until its sweep
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        h.Control.InjectFault("sendMessage", SandboxFault.Error(500, "Internal Server Error"));
        var start = clock.GetUtcNow();

        await h.SubmitAsync("reply:outbox-retry", "text");
        // CardRetryBaseDelaySeconds=1 (the harness's) after the first failed attempt.
        Assert.Equal(start + TimeSpan.FromSeconds(1), await clock.NextTimerAsync(TelegramHarness.Wait));
        Assert.Equal(500, Assert.Single(h.Control.GetCalls("sendMessage")).StatusCode);
        clock.Advance(TimeSpan.FromSeconds(1));
        await h.WaitForCardAsync("reply:outbox-retry");

        var draft = await h.WaitForStateAsync("reply:outbox-retry", DraftState.Carded);
        Assert.Equal(2, draft.CardAttempts);
        Assert.Null(draft.CardError);
        Assert.Contains(h.Host.Store.Events("reply:outbox-retry"), e => e.Type == "card_failed");
    }

    [Fact]
    public async Task Card_DraftStoredBeforeStart_SentOnStart()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.Host.DisposeAsync();
        await using (var storeOnly = await Infrastructure.TestHost.StartAsync(dataDirectory: h.DataDirectory))
        await using (var client = await storeOnly.ConnectAsync())
        {
            Assert.True((await client.SubmitAsync(new Client.DraftSubmission { Id = "reply:before", Kind = "reply", Agent = "a", Text = "queued" })).Ok);
        }

        await h.RestartHostAsync();

        await h.WaitForCardAsync("reply:before");
    }

    [Fact]
    public async Task Card_OlderDraftsContextIsNotValidUnicode_ThatCardHasANoteAndLaterDraftsStillGetTheirs()
    {
        await using var h = await TelegramHarness.StartAsync();
        // As a build that stored such a context unchecked left it: the oldest pending draft, first in every pass.
        await h.RestartHostAsync(whileStopped: () => Infrastructure.DraftFixtures.Sql(h.DataDirectory, $$"""
            INSERT INTO drafts(id, kind, agent, text, sha256, context, state, created_at, updated_at, state_since)
            VALUES ('reply:old-context', 'reply', 'old-agent', 'old text', '{{Infrastructure.Sha.Hex("old text")}}', '{"rationale":"a\ud800b"}', 'pending', 1, 1, 1)
            """));

        await h.SubmitAsync("reply:after-old", "after");

        await h.WaitForCardAsync("reply:after-old");
        var old = await h.WaitForCardAsync("reply:old-context");
        Assert.Contains("The context of this draft cannot be shown", old.Text, StringComparison.Ordinal);
        Assert.EndsWith("old text", old.Text, StringComparison.Ordinal);
        await h.WaitForStateAsync("reply:old-context", DraftState.Carded);
        await h.WaitForStateAsync("reply:after-old", DraftState.Carded);
    }

    [Fact]
    public async Task Card_OldestPendingDraftsCardCannotBeRendered_GivenUpForTheReconcilerAndLaterDraftsStillGetTheirs()
    {
        const string id = "reply:unrenderable";
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        // A sha256 no build writes makes rendering the card throw (its hash prefix is out of range): it stands for any
        // failure of one draft's card that is not Telegram's answer. The oldest pending draft, first in every pass.
        await h.RestartHostAsync(whileStopped: () => Infrastructure.DraftFixtures.Sql(h.DataDirectory, $"""
            INSERT INTO drafts(id, kind, agent, text, sha256, state, created_at, updated_at, state_since)
            VALUES ('{id}', 'reply', 'old-agent', 'old text', 'bad', 'pending', 1, 1, 1)
            """));

        await h.SubmitAsync("reply:after-1", "after one");
        await h.SubmitAsync("reply:after-2", "after two");

        await h.WaitForStateAsync("reply:after-1", DraftState.Carded);
        await h.WaitForStateAsync("reply:after-2", DraftState.Carded);
        // Given up as a card Telegram refused for good is: what the reconciler reports as card_undelivered.
        var draft = h.Host.Store.Get(id)!;
        Assert.Equal(DraftState.Pending, draft.State);
        Assert.StartsWith("could not render or send the card: ArgumentOutOfRangeException: ", draft.CardError, StringComparison.Ordinal);
        Assert.EndsWith("(gave up after 1 attempt)", draft.CardError, StringComparison.Ordinal);
        Assert.Null(draft.CardNextAt);
        Assert.Equal(1, draft.CardAttempts);
        Assert.Contains("\"gave_up\":true", Assert.Single(h.Host.Store.Events(id), e => e.Type == "card_failed").Details, StringComparison.Ordinal);
        var error = Assert.Single(logs.Entries, e => e.Category == typeof(CardOutbox).FullName && e.Level == LogLevel.Error);
        Assert.Equal(id, error.Properties["DraftId"]);

        // The approver's Retry queues it again; failing the same way, it is given up again and holds up nothing.
        Assert.True((await h.Host.Services.GetRequiredService<ApproverActions>().RetryAsync(id, "test")).Applied);
        await Eventually.TrueAsync(() => h.Host.Store.Events(id).Count(e => e.Type == "card_failed") == 2, "the retried card given up again");
        await h.SubmitCardedAsync("reply:after-retry", "after the retry");
        Assert.Null(h.Host.Store.Get(id)!.CardNextAt);
        Assert.DoesNotContain(logs.Entries, e => e.Message.StartsWith("Card outbox pass failed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Card_ChatMigratedToSupergroup_FollowsAndKeepsNewChatId()
    {
        await using var h = await TelegramHarness.StartAsync(["ApprovalBot:Telegram:ChatId=-1001"]);
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        h.Control.MigrateChat(-1001, -100_123, notify: false); // no service message: only the failed send tells the bot

        await h.SubmitAsync("reply:migrated", "text");
        var draft = await h.WaitForStateAsync("reply:migrated", DraftState.Carded);

        Assert.Equal(-100_123, draft.CardChatId);
        Assert.Equal("-100123", h.Host.Store.GetSetting("telegram.chat_migrated.-1001"));
    }

    [Fact]
    public async Task Card_TappedBeforeItsSendWasRecorded_TheTappedCardShowsTheOutcomeAndIsNotSentAgain()
    {
        const string id = "reply:early-tap";
        await using var h = await TelegramHarness.StartAsync();
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        // The first card reaches the chat but the bot sees a failure: the client does not resend it, the outbox would
        // after its backoff, but the tap comes first and makes the tapped copy the card.
        h.Control.InjectFault("sendMessage", SandboxFault.ResponseLost());

        await h.SubmitAsync(id, "text");
        var first = await h.WaitForCardAsync(id);
        var press = h.Control.PressButton(first.MessageId, TelegramHarness.ButtonData(first, "Approve"));
        await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        await h.Control.WaitForEditAsync(h.ChatId, first.MessageId, TelegramHarness.Wait, m => m.Buttons.Count == 0);
        var draft = h.Host.Store.Get(id)!;
        Assert.Equal(DraftState.Approved, draft.State);
        Assert.Equal(first.MessageId, draft.CardMessageId);

        await h.Host.Store.TransitionAsync(new Transition(id, [DraftState.Approved], DraftState.Executing, "exec_started", "test"));
        await h.Host.Store.TransitionAsync(new Transition(id, [DraftState.Executing], DraftState.Executed, "executed", "test")
        {
            Set = new Dictionary<string, object?> { ["exec_result"] = "https://example.test/posted" },
        });

        var shown = await h.Control.WaitForEditAsync(h.ChatId, first.MessageId, TelegramHarness.Wait, m => m.Text!.Contains("Executed", StringComparison.Ordinal));
        Assert.Contains("https://example.test/posted", shown.Text, StringComparison.Ordinal);
        // A decided draft is no longer the outbox's: no second copy, also once the next card is out.
        await h.SubmitCardedAsync("reply:after-early-tap", "text");
        Assert.Single(h.Control.GetMessages(h.ChatId), m => m.Text?.Contains(id, StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task Card_DraftClosedBeforeItsCardWasRecorded_TheArrivingCardBecomesTheCardWithoutButtons()
    {
        const string id = "reply:closed-early";
        await using var h = await TelegramHarness.StartAsync();
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        var send = new SandboxGate();
        h.Control.InjectFault("sendMessage", SandboxFault.Hold(send));

        await h.SubmitAsync(id, "text");
        await send.Reached.WaitAsync(TelegramHarness.Wait);
        await h.Host.Store.TransitionAsync(new Transition(id, [DraftState.Pending], DraftState.Cancelled, "cancelled", "test"));
        send.Release();

        var card = await h.Control.WaitForMessageAsync(m => m.Text?.Contains(id, StringComparison.Ordinal) == true, TelegramHarness.Wait);
        var closed = await h.Control.WaitForEditAsync(h.ChatId, card.MessageId, TelegramHarness.Wait, m => m.Buttons.Count == 0);
        Assert.Contains("Cancelled", closed.Text, StringComparison.Ordinal);
        Assert.Equal(card.MessageId, h.Host.Store.Get(id)!.CardMessageId);
        Assert.Contains(h.Host.Store.Events(id), e => e.Type == "card_sent" && e.Details!.Contains("\"arrived_after\":\"cancelled\"", StringComparison.Ordinal));
    }

    /// <summary>
    /// Telegram takes the card but its answer cannot be read: the card is most likely in the chat, its message id unknown,
    /// so it cannot be recorded. The client does not resend it at once; the outbox says at Warning that the card may be in
    /// the chat already, records the attempt (outcome_unknown in the ledger) and sends it again after the card backoff, as
    /// for any failed attempt, never giving it up for that. The copy that comes back readable is the card on record; a tap
    /// on the first copy decides too, once.
    /// </summary>
    [Fact]
    public async Task Card_SendAnsweredUnreadable_NotResentAtOnceSaidAtWarningSentAgainAfterTheBackoffAndBothCopiesDecideOnce()
    {
        const string id = "reply:unreadable-card";
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        h.Control.InjectFault("sendMessage", SandboxFault.ResponseLost(ResponseLossMode.Unreadable));

        await h.SubmitAsync(id, "text");
        var draft = await h.WaitForStateAsync(id, DraftState.Carded);

        var copies = h.Control.GetMessages(h.ChatId).Where(m => m.Text?.Contains(id, StringComparison.Ordinal) == true).ToList();
        Assert.Equal(2, copies.Count);
        Assert.Equal(copies[1].MessageId, draft.CardMessageId);
        Assert.Equal(2, h.Control.GetCalls("sendMessage").Count);
        var failed = Assert.Single(h.Host.Store.Events(id), e => e.Type == "card_failed");
        Assert.Contains("\"outcome_unknown\":true", failed.Details, StringComparison.Ordinal);
        Assert.Contains("\"gave_up\":false", failed.Details, StringComparison.Ordinal);
        var warning = Assert.Single(logs.Entries, e => e.EventId.Name == "CardOutcomeUnknown");
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("may be in the chat already", warning.Message, StringComparison.Ordinal);
        Assert.Single(logs.Entries, e => e.Level >= LogLevel.Warning && e.Message.Contains("could not be read", StringComparison.Ordinal));

        var press = h.Control.PressButton(copies[0].MessageId, TelegramHarness.ButtonData(copies[0], "Approve"));
        Assert.Contains("Approved", (await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait)).Text, StringComparison.Ordinal);
        await h.Control.WaitForEditAsync(h.ChatId, copies[1].MessageId, TelegramHarness.Wait, m => m.Buttons.Count == 0);
        Assert.Single(h.Host.Store.Events(id), e => e.Type == "decided");
    }

    /// <summary>
    /// Every answer to the card's send is unreadable (a proxy that always mangles them): each send most likely posted a copy.
    /// The card is sent once more after the first such answer, then not again: the draft is recorded as carded with no message
    /// on record (card_unconfirmed), not given up as card_undelivered while it is in the chat. /status says so, a tap on a copy
    /// decides, and /card sends one that is recorded. It sent a copy at every attempt, CardMaxAttempts copies, then gave it up.
    /// </summary>
    [Fact]
    public async Task Card_EverySendAnsweredUnreadable_SentTwiceThenRecordedUnconfirmedNotUndelivered()
    {
        const string id = "reply:unreadable-always";
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        h.Control.InjectFault("sendMessage", SandboxFault.ResponseLost(ResponseLossMode.Unreadable), times: 10);

        await h.SubmitAsync(id, "text");
        var draft = await h.WaitForStateAsync(id, DraftState.Carded);

        Assert.Equal(2, h.Control.GetCalls("sendMessage").Count);
        var copies = h.Control.GetMessages(h.ChatId).Where(m => m.Text?.Contains(id, StringComparison.Ordinal) == true).ToList();
        Assert.Equal(2, copies.Count);
        Assert.Equal((h.ChatId, (long?)null, (DateTimeOffset?)null, 2), (draft.CardChatId!.Value, draft.CardMessageId, draft.CardNextAt, draft.CardAttempts));
        Assert.Contains($"the card is most likely in chat {h.ChatId} (sent 2 times", draft.CardError, StringComparison.Ordinal);
        var events = h.Host.Store.Events(id);
        Assert.Contains("\"gave_up\":false", Assert.Single(events, e => e.Type == "card_failed").Details, StringComparison.Ordinal);
        var unconfirmed = Assert.Single(events, e => e.Type == CardRecords.UnconfirmedEvent);
        Assert.Contains("\"unreadable_card_sends\":2", unconfirmed.Details, StringComparison.Ordinal);
        // Logged just after the state it follows is stored.
        await Eventually.TrueAsync(() => logs.Entries.Any(e => e.EventId.Name == "CardUnconfirmed"), "the CardUnconfirmed log line");
        Assert.Equal(LogLevel.Warning, Assert.Single(logs.Entries, e => e.EventId.Name == "CardUnconfirmed").Level);
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Error && e.Category == typeof(CardOutbox).FullName);

        var status = h.Control.SendUserMessage("/status " + id, h.Control.ApproverId, h.ChatId);
        var reply = await h.Control.WaitForMessageAsync(m => m.MessageId > status.MessageId && m.Text?.StartsWith(id, StringComparison.Ordinal) == true, TelegramHarness.Wait);
        Assert.Contains("Card: no message on record: ", reply.Text, StringComparison.Ordinal);

        h.Control.ClearFaults();
        var ask = h.Control.SendUserMessage("/card " + id, h.Control.ApproverId, h.ChatId);
        var card = await h.Control.WaitForMessageAsync(
            m => m.MessageId > ask.MessageId && m.Text?.Contains("ID: " + id, StringComparison.Ordinal) == true && m.Buttons.Count > 0, TelegramHarness.Wait);
        await Eventually.TrueAsync(() => h.Host.Store.Get(id)!.CardMessageId == card.MessageId, "the card sent on request to be recorded");
        Assert.Null(h.Host.Store.Get(id)!.CardError);
        h.Control.PressButton(copies[0].MessageId, TelegramHarness.ButtonData(copies[0], "Approve"));
        await h.WaitForStateAsync(id, DraftState.Approved);
    }

    /// <summary>
    /// A long draft's file (sent before its card) gets answers that cannot be read: the file most likely went out, the card
    /// itself never did, and the draft's error says just that (it said "the card may be in the chat"). After the second such
    /// answer nothing is sent again (each try posted another copy of the file): the card is given up as undelivered, which it
    /// is, for the approver's Retry.
    /// </summary>
    [Fact]
    public async Task Card_LongDraftsFileAnsweredUnreadableTwice_ErrorSaysOnlyTheFileWentAndItIsNotSentAgain()
    {
        const string id = "long:unreadable-file";
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        h.Control.InjectFault("sendDocument", SandboxFault.ResponseLost(ResponseLossMode.Unreadable), times: 10);

        await h.SubmitAsync(id, new string('x', 9_000), kind: "long");
        await Eventually.TrueAsync(() => h.Host.Store.Get(id) is { CardError: not null, CardNextAt: null }, "the outbox to stop sending");

        var draft = h.Host.Store.Get(id)!;
        Assert.Equal((DraftState.Pending, (long?)null, 2), (draft.State, draft.CardMessageId, draft.CardAttempts));
        Assert.Contains("the card's text file may be in the chat", draft.CardError, StringComparison.Ordinal);
        Assert.Contains("the card itself, with its buttons, was not sent", draft.CardError, StringComparison.Ordinal);
        Assert.Contains("its file was sent 2 times", draft.CardError, StringComparison.Ordinal);
        Assert.DoesNotContain("the card may be in the chat", draft.CardError, StringComparison.Ordinal);
        Assert.Equal(2, h.Control.GetCalls("sendDocument").Count);
        Assert.Empty(h.Control.GetCalls("sendMessage"));
        Assert.Equal(2, h.Control.GetMessages(h.ChatId).Count(m => m.Document is not null));
        Assert.Equal([false, true], h.Host.Store.Events(id).Where(e => e.Type == "card_failed")
            .Select(e => e.Details!.Contains("\"gave_up\":true", StringComparison.Ordinal)));
        Assert.Single(logs.Entries, e => e.EventId.Name == "CardFileOutcomeUnknown");
    }

    /// <summary>
    /// The draft closed while its card was on the way, and Telegram refuses the edit that closes the arriving card for good:
    /// the sender says so once, naming the card; the outbox adds no warning of its own.
    /// </summary>
    [Fact]
    public async Task Card_DraftClosedBeforeItsCardWasRecordedAndTheClosingEditRefused_SaidOnceByTheSender()
    {
        const string id = "reply:closed-early-refused";
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        var send = new SandboxGate();
        h.Control.InjectFault("sendMessage", SandboxFault.Hold(send));
        h.Control.InjectFault("editMessageText", SandboxFault.Error(400, "Bad Request: message can't be edited"));

        await h.SubmitAsync(id, "text");
        await send.Reached.WaitAsync(TelegramHarness.Wait);
        await h.Host.Store.TransitionAsync(new Transition(id, [DraftState.Pending], DraftState.Cancelled, "cancelled", "test"));
        send.Release();

        await Eventually.TrueAsync(() => h.Host.Store.Events(id).Any(e => e.Type == "card_edit_refused"), "the refused edit to be recorded");
        // The outbox takes one draft at a time: once the next draft's card is out, it is done with this one, its log lines included.
        await h.SubmitCardedAsync("reply:after-closed-early", "text");
        var warning = Assert.Single(logs.Entries, e => e.Level >= LogLevel.Warning && e.Message.Contains(id, StringComparison.Ordinal));
        Assert.Contains("recorded as card_edit_refused, not tried again until the draft changes", warning.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // the draft keeps the past card_next_at of its failed first attempt while its card is unrecorded
    public async Task Card_StoreRefusesToRecordTheSentCard_SentOnceOnlyTheWriteIsRetriedUntilRecorded(bool afterAFailedAttempt)
    {
        const string id = "reply:unrecorded";
        var logs = new CapturedLogs();
        // The outbox alone runs on the test's clock: its retries come when the test moves it, not a second apart.
        var clock = new SignallingClock();
        await using var h = await TelegramHarness.StartAsync(
            ["ApprovalBot:Telegram:CardRetryMaxDelaySeconds=1", "ApprovalBot:Telegram:MaxCallRetries=0"], services: s =>
            {
                s.AddSingleton<ILoggerProvider>(logs);
                s.AddLogging(b => b.AddFilter<CapturedLogs>(null, LogLevel.Debug));
                s.UseClock<CardOutbox>(clock);
            });
        await clock.NextTimerAsync(TelegramHarness.Wait); // the outbox idles until its sweep
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        if (afterAFailedAttempt)
        {
            h.Control.InjectFault("sendMessage", SandboxFault.Error(500, "Internal Server Error"));
        }
        // The database refuses the write that records the card (as the reviewer reproduced it; a full or read-only disk refuses it too).
        h.ExecuteOnDatabase("CREATE TRIGGER test_refuse_carded BEFORE UPDATE OF state ON drafts WHEN NEW.state = 'carded' " +
            "BEGIN SELECT RAISE(ABORT, 'test: the store refuses to record the card'); END;");

        await h.SubmitAsync(id, "text");
        if (afterAFailedAttempt)
        {
            await AdvanceToNextWaitAsync(clock); // the backoff after the failed first attempt
        }
        var card = await h.WaitForCardAsync(id);
        // Three passes of the outbox met the refusal (each ends waiting on the clock, moved to its end): each used to
        // send the card again.
        while (OutboxComplaints(logs).Count < 3)
        {
            await AdvanceToNextWaitAsync(clock);
        }

        Assert.Single(h.Control.GetMessages(h.ChatId), m => m.Text?.Contains(id, StringComparison.Ordinal) == true);
        Assert.Equal(DraftState.Pending, h.Host.Store.Get(id)!.State);
        var logged = OutboxComplaints(logs)[0];
        Assert.Equal(LogLevel.Error, logged.Level);
        Assert.Equal(id, logged.Properties["DraftId"]);
        Assert.Equal(card.MessageId, Convert.ToInt32(logged.Properties["MessageId"], System.Globalization.CultureInfo.InvariantCulture));

        h.ExecuteOnDatabase("DROP TRIGGER test_refuse_carded;");
        var recorded = h.WaitForStateAsync(id, DraftState.Carded);
        while (!recorded.IsCompleted)
        {
            await AdvanceToNextWaitAsync(clock);
        }
        var draft = await recorded;

        Assert.Equal(card.MessageId, draft.CardMessageId);
        Assert.Equal(afterAFailedAttempt ? 2 : 1, draft.CardAttempts);
        Assert.Null(draft.CardError);
        Assert.Single(h.Control.GetMessages(h.ChatId), m => m.Text?.Contains(id, StringComparison.Ordinal) == true);
        Assert.Single(h.Control.GetCalls("sendMessage"), c => c.StatusCode == 200);
        Assert.Single(h.Host.Store.Events(id), e => e.Type == "card_sent");
    }

    /// <summary>
    /// The store keeps refusing to record a card in the chat, for more than an hour: the write is retried with backoff for
    /// as long as it takes, but the outbox says so at Error once, then in one Warning an hour, not a Warning each retry.
    /// "statement": the write itself is refused (a SqliteException, the write alone is undone); "commit": the commit is
    /// refused, as on a full or read-only disk (the store answers StoreUnavailableException for the whole batch).
    /// </summary>
    [Theory]
    [InlineData("statement")]
    [InlineData("commit")]
    public async Task Card_StoreRefusesToRecordTheSentCardForAnHour_WriteRetriedWithBackoffErrorOnceThenOneWarningAnHour(string refused)
    {
        const string id = "reply:unrecorded-long";
        var logs = new CapturedLogs();
        // The outbox alone runs on the test's clock: an hour of its retries passes without an hour of waiting.
        var clock = new SignallingClock();
        await using var h = await TelegramHarness.StartAsync(services: s =>
        {
            s.AddSingleton<ILoggerProvider>(logs);
            s.AddLogging(b => b.AddFilter<CapturedLogs>(null, LogLevel.Debug));
            s.AddSingleton(sp => ActivatorUtilities.CreateInstance<CardOutbox>(sp, (TimeProvider)clock));
        });
        await clock.NextTimerAsync(TelegramHarness.Wait); // the outbox idles until its sweep
        h.ExecuteOnDatabase(refused == "statement"
            ? "CREATE TRIGGER test_refuse_carded BEFORE UPDATE OF state ON drafts WHEN NEW.state = 'carded' " +
              "BEGIN SELECT RAISE(ABORT, 'test: the store refuses to record the card'); END;"
            // A deferred foreign key checked at COMMIT, which then fails: the writer drops the batch, as when the disk is full.
            : "CREATE TABLE test_parent(id INTEGER PRIMARY KEY); " +
              "CREATE TABLE test_refused(parent INTEGER REFERENCES test_parent(id) DEFERRABLE INITIALLY DEFERRED); " +
              "CREATE TRIGGER test_refuse_carded AFTER UPDATE OF state ON drafts WHEN NEW.state = 'carded' " +
              "BEGIN INSERT INTO test_refused VALUES (1); END;");

        await h.SubmitAsync(id, "text");
        var card = await h.WaitForCardAsync(id);
        var since = clock.GetUtcNow();
        // Each pass of the outbox ends waiting on the clock: move it to each wait's end, for 70 minutes.
        while (clock.GetUtcNow() < since + TimeSpan.FromMinutes(70))
        {
            var due = await clock.NextTimerAsync(TelegramHarness.Wait);
            clock.Advance(due > clock.GetUtcNow() ? due - clock.GetUtcNow() : TimeSpan.Zero);
        }

        var complaints = OutboxComplaints(logs).Where(e => e.Level >= LogLevel.Warning).ToList();
        var error = Assert.Single(complaints, e => e.Level == LogLevel.Error);
        Assert.Equal("CardNotRecorded", error.EventId.Name);
        var reminder = Assert.Single(complaints, e => e.Level == LogLevel.Warning);
        Assert.Equal("CardsStillNotRecorded", reminder.EventId.Name);
        Assert.Equal(1, Convert.ToInt32(reminder.Properties["Count"], CultureInfo.InvariantCulture));
        Assert.Equal(id, reminder.Properties["DraftId"]);
        Assert.InRange(Convert.ToDouble(reminder.Properties["Minutes"], CultureInfo.InvariantCulture), 60, 61);
        // Every retry is still made, with the card backoff (1 s doubling, capped at 600 s here), and logged at Debug.
        var retries = logs.Entries.Where(e => e.Category == typeof(CardOutbox).FullName && e.Message.Contains("still not recorded (", StringComparison.Ordinal)).ToList();
        Assert.All(retries, e => Assert.Equal(LogLevel.Debug, e.Level));
        var delays = retries.Select(e => Convert.ToDouble(e.Properties["DelaySeconds"], CultureInfo.InvariantCulture)).ToList();
        Assert.True(delays.Count >= 12, $"{delays.Count} retries in 70 minutes");
        Assert.Equal(delays.Select((_, i) => Math.Min(600, Math.Pow(2, i + 1))), delays);
        Assert.Equal(refused == "commit", logs.Entries.Any(e => e.Message.StartsWith("Store commit failed", StringComparison.Ordinal)));

        h.ExecuteOnDatabase("DROP TRIGGER test_refuse_carded;");
        var recorded = h.WaitForStateAsync(id, DraftState.Carded);
        while (!recorded.IsCompleted)
        {
            var due = await clock.NextTimerAsync(TelegramHarness.Wait);
            clock.Advance(due > clock.GetUtcNow() ? due - clock.GetUtcNow() : TimeSpan.Zero);
        }
        Assert.Equal(card.MessageId, (await recorded).CardMessageId);
        Assert.Single(h.Control.GetCalls("sendMessage"), c => c.StatusCode == 200);
        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Information && e.Message.Contains($"of {id} recorded after", StringComparison.Ordinal));
    }

    /// <summary>Waits for the next wait on <paramref name="clock"/> to begin, and moves the clock to its end.</summary>
    private static async Task AdvanceToNextWaitAsync(SignallingClock clock)
    {
        var due = await clock.NextTimerAsync(TelegramHarness.Wait);
        clock.Advance(due > clock.GetUtcNow() ? due - clock.GetUtcNow() : TimeSpan.Zero);
    }

    /// <summary>
    /// What the outbox logged about the store refusing it (not the failed send of the first attempt): the Error, the
    /// reminders, and each retry of the write (at Debug).
    /// </summary>
    private static List<CapturedLogs.Entry> OutboxComplaints(CapturedLogs logs) =>
        [.. logs.Entries.Where(e => e.Category == typeof(CardOutbox).FullName && !e.Message.Contains("failed (attempt", StringComparison.Ordinal)
            && !e.Message.Contains("may be in the chat already (attempt", StringComparison.Ordinal)
            && (e.Level >= LogLevel.Warning || e.Message.Contains("still not recorded (", StringComparison.Ordinal)))];
}
