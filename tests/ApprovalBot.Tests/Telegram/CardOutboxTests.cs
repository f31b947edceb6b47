using System.Text;
using ApprovalBot.Drafts;
using ApprovalBot.Sandbox;
using ApprovalBot.Telegram.Cards;
using ApprovalBot.Tests.Execution;
using Microsoft.Data.Sqlite;
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

    [Fact]
    public async Task Card_SendMessageAnswers429_ResentAfterRetryAfterNoCardLost()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        h.Control.InjectFault("sendMessage", SandboxFault.TooManyRequests(1));

        await h.SubmitAsync("reply:429", "text");
        var card = await h.WaitForCardAsync("reply:429");
        // The sandbox shows the card before it logs the call that sent it.
        await h.Control.WaitForCallAsync(c => c.Method == "sendMessage" && c.StatusCode == 200, TelegramHarness.Wait);

        var calls = h.Control.GetCalls("sendMessage");
        var throttled = Assert.Single(calls, c => c.StatusCode == 429);
        var delivered = Assert.Single(calls, c => c.StatusCode == 200);
        Assert.True(delivered.At - throttled.At >= TimeSpan.FromSeconds(0.9), $"resent after {(delivered.At - throttled.At).TotalSeconds} s");
        var draft = await h.WaitForStateAsync("reply:429", DraftState.Carded);
        Assert.Equal(card.MessageId, draft.CardMessageId);
        Assert.Null(draft.CardError);
    }

    [Fact]
    public async Task Card_SendMessageAnswers5xx_RetriedUntilDelivered()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        h.Control.InjectFault("sendMessage", SandboxFault.Error(502, "Bad Gateway"), times: 2);

        await h.SubmitAsync("reply:5xx", "text");
        await h.WaitForCardAsync("reply:5xx");

        Assert.Equal(2, h.Control.GetCalls("sendMessage").Count(c => c.StatusCode == 502));
        Assert.Equal(DraftState.Carded, (await h.WaitForStateAsync("reply:5xx", DraftState.Carded)).State);
    }

    [Fact]
    public async Task Card_PermanentError_RecordedOnDraftNotRetried()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        h.Control.InjectFault("sendMessage", SandboxFault.Error(403, "Forbidden: bot was blocked by the user"));

        await h.SubmitAsync("reply:403", "text");

        await Eventually.TrueAsync(() => h.Host.Store.Get("reply:403")!.CardError is not null, "card_error on the draft");
        var draft = h.Host.Store.Get("reply:403")!;
        Assert.Equal(DraftState.Pending, draft.State);
        Assert.Contains("403 Forbidden: bot was blocked by the user", draft.CardError);
        Assert.Contains("gave up", draft.CardError);
        Assert.Null(draft.CardNextAt);
        Assert.Equal(1, draft.CardAttempts);
        Assert.Contains(h.Host.Store.Events("reply:403"), e => e.Type == "card_failed");
    }

    [Fact]
    public async Task Card_TransientErrorsOutlastCallRetries_RetriedByOutboxWithBackoff()
    {
        await using var h = await TelegramHarness.StartAsync(["ApprovalBot:Telegram:MaxCallRetries=0"]);
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        h.Control.InjectFault("sendMessage", SandboxFault.Error(500, "Internal Server Error"));

        await h.SubmitAsync("reply:outbox-retry", "text");
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
    public async Task Card_TappedBeforeItsSendWasRecorded_TheTappedCardShowsTheOutcomeAndTheResendIsClosed()
    {
        const string id = "reply:early-tap";
        await using var h = await TelegramHarness.StartAsync();
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        // The first card reaches the chat but the bot sees a failure; its resend is held until the tap is decided.
        var resend = new SandboxGate();
        h.Control.InjectFault("sendMessage", SandboxFault.ResponseLost());
        h.Control.InjectFault("sendMessage", SandboxFault.Hold(resend));

        await h.SubmitAsync(id, "text");
        var first = await h.WaitForCardAsync(id);
        var press = h.Control.PressButton(first.MessageId, TelegramHarness.ButtonData(first, "Approve"));
        await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        await resend.Reached.WaitAsync(TelegramHarness.Wait);
        Assert.Equal(first.MessageId, h.Host.Store.Get(id)!.CardMessageId);
        resend.Release();

        var second = await h.Control.WaitForMessageAsync(m => m.MessageId != first.MessageId && m.Text?.Contains(id, StringComparison.Ordinal) == true, TelegramHarness.Wait);
        await h.Control.WaitForEditAsync(h.ChatId, second.MessageId, TelegramHarness.Wait, m => m.Buttons.Count == 0);
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

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // the draft keeps the past card_next_at of its failed first attempt while its card is unrecorded
    public async Task Card_StoreRefusesToRecordTheSentCard_SentOnceOnlyTheWriteIsRetriedUntilRecorded(bool afterAFailedAttempt)
    {
        const string id = "reply:unrecorded";
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(
            ["ApprovalBot:Telegram:CardRetryMaxDelaySeconds=1", "ApprovalBot:Telegram:MaxCallRetries=0"], services: s => s.AddSingleton<ILoggerProvider>(logs));
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        if (afterAFailedAttempt)
        {
            h.Control.InjectFault("sendMessage", SandboxFault.Error(500, "Internal Server Error"));
        }
        // The database refuses the write that records the card (as the reviewer reproduced it; a full or read-only disk refuses it too).
        ExecuteOnDatabase(h, "CREATE TRIGGER test_refuse_carded BEFORE UPDATE OF state ON drafts WHEN NEW.state = 'carded' " +
            "BEGIN SELECT RAISE(ABORT, 'test: the store refuses to record the card'); END;");

        await h.SubmitAsync(id, "text");
        var card = await h.WaitForCardAsync(id);
        // Three passes of the outbox met the refusal (one a second): each used to send the card again.
        await Eventually.TrueAsync(() => OutboxComplaints(logs).Count >= 3, "three outbox passes to meet the refusal");

        Assert.Single(h.Control.GetMessages(h.ChatId), m => m.Text?.Contains(id, StringComparison.Ordinal) == true);
        Assert.Equal(DraftState.Pending, h.Host.Store.Get(id)!.State);
        var logged = OutboxComplaints(logs)[0];
        Assert.Equal(LogLevel.Error, logged.Level);
        Assert.Equal(id, logged.Properties["DraftId"]);
        Assert.Equal(card.MessageId, Convert.ToInt32(logged.Properties["MessageId"], System.Globalization.CultureInfo.InvariantCulture));

        ExecuteOnDatabase(h, "DROP TRIGGER test_refuse_carded;");
        var draft = await h.WaitForStateAsync(id, DraftState.Carded);

        Assert.Equal(card.MessageId, draft.CardMessageId);
        Assert.Equal(afterAFailedAttempt ? 2 : 1, draft.CardAttempts);
        Assert.Null(draft.CardError);
        Assert.Single(h.Control.GetMessages(h.ChatId), m => m.Text?.Contains(id, StringComparison.Ordinal) == true);
        Assert.Single(h.Control.GetCalls("sendMessage"), c => c.StatusCode == 200);
        Assert.Single(h.Host.Store.Events(id), e => e.Type == "card_sent");
    }

    /// <summary>What the outbox logged about the store refusing it (not the failed send of the first attempt).</summary>
    private static List<CapturedLogs.Entry> OutboxComplaints(CapturedLogs logs) =>
        [.. logs.Entries.Where(e => e.Category == typeof(CardOutbox).FullName && e.Level >= LogLevel.Warning && !e.Message.Contains("failed (attempt", StringComparison.Ordinal))];

    private static void ExecuteOnDatabase(TelegramHarness h, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(h.DataDirectory, "approvals.db")};Pooling=False");
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
