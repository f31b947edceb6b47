using ApprovalBot.Client;
using ApprovalBot.Sandbox;
using ApprovalBot.Tests.Infrastructure;
using ApprovalBot.Tests.Telegram;
using Microsoft.Data.Sqlite;

namespace ApprovalBot.Tests.Reliability;

/// <summary>
/// Issue 5, "Faults at every seam", the Bot API part, beside the crash loop (which queues the same faults at
/// random): the real host as a child process against the sandbox, a 2 s HTTP timeout, and command routes with
/// their own ledger. A card whose sendMessage answer was lost is delivered twice; pressing Approve on both
/// copies must give one decision and one execution.
/// </summary>
public sealed class BotApiFaultTests
{
    private static TimeSpan Wait => SinkRig.Wait;

    public static TheoryData<string, bool> LostAnswers => new()
    {
        { "abort", true }, { "abort", false }, { "502", true }, { "502", false },
    };

    [Theory]
    [MemberData(nameof(LostAnswers))]
    public async Task SendMessageAppliedButAnswerLost_DuplicateCard_ApproveBoth_OneDecisionOneExecution(string loss, bool idempotentRoute)
    {
        await using var rig = await Rig.StartAsync();
        rig.Control.InjectFault("sendMessage", SandboxFault.ResponseLost(loss == "abort" ? ResponseLossMode.AbortConnection : ResponseLossMode.BadGateway));
        var kind = idempotentRoute ? "post" : "dm";
        var id = $"{kind}:dup:{loss}";
        var receipt = await rig.SubmitAsync(id, "Posted exactly once, whatever the Bot API answered.", kind);

        var cards = await rig.WaitForCardsAsync(id, 2);
        var first = rig.Control.PressButton(cards[0].MessageId, TelegramHarness.ButtonData(cards[0], "Approve"));
        var second = rig.Control.PressButton(cards[1].MessageId, TelegramHarness.ButtonData(cards[1], "Approve"));
        var answers = new[]
        {
            await rig.Control.WaitForCallbackAnswerAsync(first.QueryId, Wait),
            await rig.Control.WaitForCallbackAnswerAsync(second.QueryId, Wait),
        };
        var view = await rig.WaitForStateAsync(id, States.Executed);

        Assert.Equal(receipt.Sha256, view.Decision!.Sha256);
        Assert.Single(answers, a => a.Text == "✅ Approved");
        Assert.Single(answers, a => a.Text!.StartsWith("Already approved", StringComparison.Ordinal));
        Assert.Single(rig.Events(id, "decided"));
        Assert.Single(rig.Events(id, "execution_started"));
        var sink = idempotentRoute ? rig.PostSink : rig.DmSink;
        Assert.Single(sink.Starts(), s => s.DraftId == id);
        Assert.Equal(view.Execution!.IdempotencyKey, Assert.Single(sink.Effects()).Key);
        // Both copies end without buttons: the tapped one and the stored one are edited to show the outcome.
        foreach (var card in cards)
        {
            await rig.Control.WaitForMessageAsync(m => m.MessageId == card.MessageId && m.ChatId == card.ChatId && !m.AllButtons.Any(b => b.CallbackData?.StartsWith("a:", StringComparison.Ordinal) == true), Wait);
        }
    }

    [Fact]
    public async Task StormsBurstsHangsAndLostAnswers_EveryDraftDecidedOnceExecutedOnce()
    {
        await using var rig = await Rig.StartAsync();
        rig.Control.InjectFault("sendMessage", SandboxFault.TooManyRequests(1), 4);
        rig.Control.InjectFault("answerCallbackQuery", SandboxFault.TooManyRequests(1), 2);
        rig.Control.InjectFault("editMessageText", SandboxFault.Error(500, "Internal Server Error"), 3);
        rig.Control.InjectFault("answerCallbackQuery", SandboxFault.ResponseLost(), 2);
        rig.Control.InjectFault("editMessageText", SandboxFault.ResponseLost(), 2);
        var ids = Enumerable.Range(1, 6).Select(i => (i % 2 == 0 ? "post" : "dm") + ":storm:" + i).ToArray();
        foreach (var id in ids)
        {
            await rig.SubmitAsync(id, "Storm draft " + id, id[..id.IndexOf(':')]);
        }
        // A 5xx burst and a hang past the timeout for the cards still on their way.
        rig.Control.InjectFault("sendMessage", SandboxFault.ResponseLost(ResponseLossMode.BadGateway), 3);
        rig.Control.InjectFault("sendMessage", SandboxFault.Hang(), 1);

        var pressed = new List<PressedButton>();
        var cards = new Dictionary<string, SentMessage>();
        foreach (var id in ids)
        {
            var card = (await rig.WaitForCardsAsync(id, 1))[0];
            cards[id] = card;
            pressed.Add(rig.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve")));
            if (id == ids[0])
            {
                // The approver taps the first card twice, before the decision takes its buttons: the second tap changes nothing.
                pressed.Add(rig.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve")));
            }
        }
        foreach (var id in ids)
        {
            await rig.WaitForStateAsync(id, States.Executed);
        }
        foreach (var p in pressed)
        {
            await rig.Control.WaitForUpdateConfirmedAsync(p.UpdateId, Wait);
        }

        foreach (var id in ids)
        {
            Assert.Single(rig.Events(id, "decided"));
            Assert.Single(rig.Events(id, "execution_started"));
        }
        Assert.Equal(3, rig.PostSink.Effects().Count);
        Assert.Equal(3, rig.DmSink.Effects().Count);
        Assert.Equal(3, rig.DmSink.Starts().Count);
        Assert.All(rig.PostSink.Effects().GroupBy(e => e.Key), g => Assert.Single(g));
        var calls = rig.Control.GetCalls();
        Assert.True(calls.Count(c => c.StatusCode == 429) >= 6, "the 429 storm did not reach the bot");
        Assert.True(calls.Count(c => c.StatusCode >= 500) >= 3, "the 5xx burst on edits did not reach the bot");
        Assert.True(calls.Count(c => c.Method == "sendMessage" && c.ResponseLost) >= 4, "the 502s and the hang on sends did not reach the bot");
    }

    /// <summary>The shared rig with a 2 s HTTP timeout, and what only these tests look at: a draft's cards, its ledger.</summary>
    private sealed class Rig() : SinkRig("fault-test")
    {
        public static async Task<Rig> StartAsync()
        {
            var rig = new Rig();
            await rig.StartSandboxAndHostAsync();
            return rig;
        }

        protected override IEnumerable<string> HostSettings() =>
        [
            "ApprovalBot:Telegram:HttpTimeoutSeconds=2",
            "ApprovalBot:Execution:IntervalSeconds=1",
            .. PostSink.Settings("post", idempotent: true),
            .. DmSink.Settings("dm", idempotent: false),
        ];

        /// <summary>The first <paramref name="count"/> cards of a draft that carry decision buttons, oldest first.</summary>
        public async Task<IReadOnlyList<SentMessage>> WaitForCardsAsync(string id, int count)
        {
            bool IsCard(SentMessage m) => m.Document is null && m.Text?.Contains(id, StringComparison.Ordinal) == true
                && m.Versions[0].Buttons.SelectMany(r => r).Any(b => b.CallbackData?.StartsWith("a:", StringComparison.Ordinal) == true);
            await Control.WaitForMessageAsync(m => IsCard(m) && Control.GetAllMessages().Count(IsCard) >= count, Wait);
            return [.. Control.GetAllMessages().Where(IsCard).Take(count)];
        }

        public IReadOnlyList<string> Events(string draftId, string type)
        {
            using var connection = new SqliteConnection($"Data Source={Database};Mode=ReadOnly;Pooling=False");
            connection.Open();
            using var cmd = connection.CreateCommand();
            cmd.CommandText = "SELECT details FROM events WHERE draft_id = $id AND type = $type ORDER BY id";
            cmd.Parameters.AddWithValue("$id", draftId);
            cmd.Parameters.AddWithValue("$type", type);
            using var reader = cmd.ExecuteReader();
            var events = new List<string>();
            while (reader.Read())
            {
                events.Add(reader.IsDBNull(0) ? "" : reader.GetString(0));
            }
            return events;
        }
    }
}
