using System.Net.Http.Json;
using ApprovalBot.Drafts;
using ApprovalBot.Sandbox;
using ApprovalBot.Tests.Execution;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ApprovalBot.Tests.Infrastructure;
using ApprovalBot.Telegram.Updates;

namespace ApprovalBot.Tests.Telegram;

public sealed class UpdatePollerTests
{
    [Fact]
    public async Task Poll_MalformedAndUnknownUpdates_SkippedPollerKeepsWorking()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.SubmitAsync("reply:after-junk", "text");
        var card = await h.WaitForCardAsync("reply:after-junk");

        var junk = h.Control.EnqueueRawUpdate("""{"update_id":0,"callback_query":{"id":42,"from":"nobody"}}""");
        var unknown = h.Control.EnqueueRawUpdate("""{"update_id":0,"poll":{"id":"p"}}""");
        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        await h.Control.WaitForUpdateConfirmedAsync(press.UpdateId, TelegramHarness.Wait);

        Assert.True(junk < press.UpdateId && unknown < press.UpdateId);
        Assert.Equal(DraftState.Approved, h.Host.Store.Get("reply:after-junk")!.State);
    }

    /// <summary>
    /// Updates whose id the getUpdates offset (update_id + 1, positive) cannot move past: long.MaxValue wrapped it to
    /// long.MinValue, and a negative offset asks for the last -offset updates only, forgetting the rest. Each is a stranger's
    /// command that would be answered and recorded if it were handled.
    /// </summary>
    [Theory]
    [InlineData("\"update_id\":9223372036854775807,", "Skipped malformed update 9223372036854775807: update_id out of range, the offset cannot move past it")]
    [InlineData("\"update_id\":-10,", "Skipped malformed update -10: update_id out of range, the offset cannot move past it")]
    [InlineData("\"update_id\":-1,", "Skipped malformed update -1: update_id out of range, the offset cannot move past it")]
    [InlineData("\"update_id\":1e30,", "Skipped malformed update without an update_id: update_id is not an integer")]
    [InlineData("\"update_id\":\"7\",", "Skipped malformed update without an update_id: update_id is not an integer")]
    [InlineData("", "Skipped malformed update without an update_id: update_id missing")]
    public async Task Poll_UpdateIdTheOffsetCannotMovePast_SkippedNothingStoredBacksOffLaterUpdatesServed(string updateId, string logged)
    {
        var clock = new SignallingClock();
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(
            ["ApprovalBot:Telegram:RetryBaseDelayMs=100"], services: s => s.UseClock<UpdatePoller>(clock).AddSingleton<ILoggerProvider>(logs));
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        var stranger = h.Control.StrangerId.ToString(System.Globalization.CultureInfo.InvariantCulture);

        h.Control.EnqueueRawUpdate(
            "{" + updateId + "\"message\":{\"message_id\":1,\"date\":0,\"from\":{\"id\":" + stranger + ",\"is_bot\":false,\"first_name\":\"S\"}," +
            "\"chat\":{\"id\":" + stranger + ",\"type\":\"private\"},\"text\":\"/pending\"}}",
            assignUpdateId: false);

        // Nothing in the batch moved the offset, so the same update would come straight back: the poller backs off first.
        var waitingSince = clock.GetUtcNow();
        Assert.Equal(waitingSince + TimeSpan.FromMilliseconds(100), await clock.NextTimerAsync(TelegramHarness.Wait));
        var later = h.Control.SendUserMessage("/help");
        clock.Advance(TimeSpan.FromMilliseconds(100));
        await h.Control.WaitForMessageAsync(m => m.ChatId == h.ChatId && m.Text?.StartsWith("Commands", StringComparison.Ordinal) == true, TelegramHarness.Wait);
        await h.Control.WaitForUpdateConfirmedAsync(later.UpdateId, TelegramHarness.Wait);

        await Eventually.TrueAsync(
            () => h.Host.Store.GetSetting(UpdatePoller.OffsetSetting) == (later.UpdateId + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), "the stored offset");
        Assert.All(h.Control.GetCalls("getUpdates"), c => Assert.True(
            !c.Parameters.TryGetValue("offset", out var offset) || long.Parse(offset, System.Globalization.CultureInfo.InvariantCulture) > 0, offset));
        Assert.Empty(h.Host.Store.EventsOfType(CallbackRouter.SecurityEvent));
        Assert.Empty(h.Control.GetMessages(h.Control.StrangerId));
        Assert.Contains(logs.Entries, e => e.Category == typeof(UpdatePoller).FullName && e.Level == LogLevel.Warning && e.Message == logged);
    }

    /// <summary>
    /// A button press or a command without a field the Bot API always sends and the bot goes by (which query, who, where),
    /// or with it null, is skipped as malformed like any other: nothing recorded, nothing answered, the offset moves past
    /// it and the updates behind it are served. Before, a null <c>from</c> threw (logged as a failed handler, the tap left
    /// unanswered), a missing one or one without an id read as user 0, a missing query id as "" (the tap decided) and a
    /// missing chat as chat 0.
    /// </summary>
    [Theory]
    [InlineData("press, from null", """{"callback_query":{"id":"q1","from":null,"message":{MESSAGE},"chat_instance":"1","data":"{DATA}"}}""", "from")]
    [InlineData("press, no from", """{"callback_query":{"id":"q2","message":{MESSAGE},"chat_instance":"1","data":"{DATA}"}}""", "from")]
    [InlineData("press, from without an id", """{"callback_query":{"id":"q3","from":{"is_bot":false,"first_name":"A"},"message":{MESSAGE},"chat_instance":"1","data":"{DATA}"}}""", "id")]
    [InlineData("press, no id", """{"callback_query":{"from":{APPROVER},"message":{MESSAGE},"chat_instance":"1","data":"{DATA}"}}""", "id")]
    [InlineData("press, id null", """{"callback_query":{"id":null,"from":{APPROVER},"message":{MESSAGE},"chat_instance":"1","data":"{DATA}"}}""", "id")]
    [InlineData("press, message without a chat", """{"callback_query":{"id":"q6","from":{APPROVER},"message":{"message_id":{CARD},"date":0},"chat_instance":"1","data":"{DATA}"}}""", "chat")]
    [InlineData("press, chat without an id", """{"callback_query":{"id":"q7","from":{APPROVER},"message":{"message_id":{CARD},"date":0,"chat":{"type":"private"}},"chat_instance":"1","data":"{DATA}"}}""", "id")]
    [InlineData("command, no chat", """{"message":{"message_id":5,"date":0,"from":{APPROVER},"text":"/help"}}""", "chat")]
    [InlineData("command, chat null", """{"message":{"message_id":5,"date":0,"from":{APPROVER},"chat":null,"text":"/help"}}""", "chat")]
    [InlineData("command, from without an id", """{"message":{"message_id":5,"date":0,"from":{"is_bot":false,"first_name":"A"},"chat":{CHAT},"text":"/help"}}""", "id")]
    // A key twice, read last-value-wins before: the press decided by its second data or for its second from, the command
    // answered for its second text. Refused whole wherever the key is, a part the bot does not read (a chat's title) too.
    [InlineData("press, data twice", """{"callback_query":{"id":"q8","from":{APPROVER},"message":{MESSAGE},"chat_instance":"1","data":"junk","data":"{DATA}"}}""", "data")]
    [InlineData("press, from twice", """{"callback_query":{"id":"q9","from":{"id":666,"is_bot":false,"first_name":"S"},"from":{APPROVER},"message":{MESSAGE},"chat_instance":"1","data":"{DATA}"}}""", "from")]
    [InlineData("press, a chat's title twice", """{"callback_query":{"id":"q10","from":{APPROVER},"message":{"message_id":{CARD},"date":0,"chat":{"id":{CHATID},"type":"private","title":"a","title":"b"}},"chat_instance":"1","data":"{DATA}"}}""", "title")]
    [InlineData("command, text twice", """{"message":{"message_id":5,"date":0,"from":{APPROVER},"chat":{CHAT},"text":"/x","text":"/help"}}""", "text")]
    public async Task Poll_PressOrCommandWithoutWhoOrWhere_SkippedAsMalformedNothingRecordedLaterUpdatesServed(string scenario, string template, string field)
    {
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        var card = await h.SubmitCardedAsync("reply:malformed", "text");
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        var approver = $$"""{"id":{{h.Control.ApproverId.ToString(invariant)}},"is_bot":false,"first_name":"A"}""";
        var chat = $$"""{"id":{{h.ChatId.ToString(invariant)}},"type":"private"}""";
        var json = template.Replace("{MESSAGE}", $$"""{"message_id":{{card.MessageId.ToString(invariant)}},"date":0,"chat":{{chat}}}""", StringComparison.Ordinal)
            .Replace("{APPROVER}", approver, StringComparison.Ordinal).Replace("{CHAT}", chat, StringComparison.Ordinal)
            .Replace("{CARD}", card.MessageId.ToString(invariant), StringComparison.Ordinal)
            .Replace("{CHATID}", h.ChatId.ToString(invariant), StringComparison.Ordinal)
            .Replace("{DATA}", TelegramHarness.ButtonData(card, "Approve"), StringComparison.Ordinal);

        var bad = h.Control.EnqueueRawUpdate(json);
        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        var answer = await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        await h.Control.WaitForUpdateConfirmedAsync(press.UpdateId, TelegramHarness.Wait);
        // A /help handled after all would be answered after its update is confirmed.
        await h.Control.AllRepliesSentAsync(h.ChatId);

        Assert.True(bad < press.UpdateId, scenario);
        Assert.Equal("✅ Approved", answer.Text);
        var skipped = Assert.Single(logs.Entries, e => e.Level == LogLevel.Warning && e.Message.StartsWith($"Skipped malformed update {bad.ToString(invariant)}: ", StringComparison.Ordinal));
        Assert.True(skipped.Message.Contains($"'{field}'", StringComparison.OrdinalIgnoreCase), skipped.Message);
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Error);
        Assert.Empty(h.Host.Store.EventsOfType(CallbackRouter.SecurityEvent));
        Assert.Empty(h.Host.Store.EventsOfType(OrphanCallbacks.EventType));
        Assert.Equal([press.QueryId], h.Control.GetCallbackAnswers().Select(a => a.QueryId));
        Assert.DoesNotContain(h.Control.GetMessages(h.ChatId), m => m.Text?.StartsWith("Commands", StringComparison.Ordinal) == true);
    }

    /// <summary>
    /// The updates that waited at Telegram while the service was down are fetched without a long poll, so an empty answer
    /// says at once that none is left (expiry waits for it, see <see cref="UpdateBacklog"/>); then polls are long again.
    /// </summary>
    [Fact]
    public async Task Start_BacklogFetchedWithoutALongPoll_ThenLongPolls()
    {
        await using var h = await TelegramHarness.StartAsync();
        UserMessage? sent = null;

        var before = h.Control.GetCalls("getUpdates").Count;
        await h.RestartHostAsync(whileStopped: () => sent = h.Control.SendUserMessage("/help"));
        await h.Host.Services.GetRequiredService<UpdateBacklog>().Handled.WaitAsync(TelegramHarness.Wait);
        await h.Control.WaitForUpdateConfirmedAsync(sent!.UpdateId, TelegramHarness.Wait);
        // The poll in flight now, which the sandbox holds for its timeout: no call record until it ends.
        await Eventually.TrueAsync(() => h.Control.LastLongPollTimeout == TimeSpan.FromSeconds(10), "a long poll after the backlog");

        // Answered ones only: the old host's long poll, cut off by the restart, may be recorded late, unanswered.
        var sinceRestart = h.Control.GetCalls("getUpdates").Skip(before).Where(c => c.StatusCode != 0).ToList();
        Assert.NotEmpty(sinceRestart);
        Assert.All(sinceRestart, c => Assert.Equal("0", c.Parameters["timeout"]));
    }

    /// <summary>
    /// Telegram out of reach after a restart, back at 9 minutes 55 while the poller waits out a minute's backoff: the end of
    /// the backlog's 10-minute window wakes it to poll at once, and the taps made while the service was down are taken in
    /// before expiry goes ahead. It used to give them up at 10 minutes, unasked, and poll again only at 10:50.
    /// </summary>
    [Fact]
    public async Task Poll_TelegramBackJustInsideTheBacklogWindow_PolledWhenTheWindowEndsNotGivenUpOn()
    {
        var clock = new SignallingClock(reportDueWithin: TimeSpan.FromMinutes(2));
        await using var h = await TelegramHarness.StartAsync(
            ["ApprovalBot:Telegram:RetryBaseDelayMs=50000", "ApprovalBot:Telegram:MaxCallRetries=0"],
            services: s => s.UseClock<UpdatePoller>(clock).UseClock<UpdateBacklog>(clock));
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        UserMessage? sent = null;
        await h.RestartHostAsync(whileStopped: () =>
        {
            sent = h.Control.SendUserMessage("/help");
            h.Control.InjectFault("getUpdates", SandboxFault.Error(502, "Bad Gateway"), times: 1_000);
        });
        var started = clock.GetUtcNow();
        var windowEnds = started + UpdateBacklog.GiveUpAfter;
        var backlog = h.Host.Services.GetRequiredService<UpdateBacklog>();

        // Each failed poll waits 50 s, then a minute; the one that fails at 9:50 waits until 10:50.
        DateTimeOffset due;
        while ((due = await clock.NextTimerAsync(TelegramHarness.Wait)) < windowEnds)
        {
            clock.Advance(due - clock.GetUtcNow());
        }
        clock.Advance(windowEnds - TimeSpan.FromSeconds(5) - clock.GetUtcNow());
        h.Control.ClearFaults();
        clock.Advance(TimeSpan.FromSeconds(5));

        await backlog.Handled.WaitAsync(TelegramHarness.Wait);
        await h.Control.WaitForUpdateConfirmedAsync(sent!.UpdateId, TelegramHarness.Wait);
        Assert.True(due > windowEnds, "the poller was asleep in its backoff when the window ended");
        Assert.True(clock.GetUtcNow() < due, "taken in before that backoff would have ended");
    }

    /// <summary>
    /// Telegram refuses the command menu for good (a 400 that no retry mends: a command name it stopped taking): the start
    /// used to retry it for ever, never reaching getUpdates, so no tap was ever fetched. The menu is a convenience.
    /// </summary>
    [Fact]
    public async Task Start_CommandMenuRefusedForGood_PollsAnywayWithAWarning()
    {
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        await h.RestartHostAsync(whileStopped: () =>
            h.Control.InjectFault("setMyCommands", SandboxFault.Error(400, "Bad Request: BOT_COMMAND_INVALID"), times: 1_000));
        await h.SubmitAsync("reply:menu-refused", "text");
        var card = await h.WaitForCardAsync("reply:menu-refused");

        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);

        Assert.Equal(DraftState.Approved, h.Host.Store.Get("reply:menu-refused")!.State);
        Assert.Contains(logs.Entries, e => e.Category == typeof(UpdatePoller).FullName && e.Level == LogLevel.Warning
            && e.Message.StartsWith("Telegram did not take the bot's command menu (setMyCommands: 400 Bad Request: BOT_COMMAND_INVALID)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Poll_OffsetStoredAfterEffects_RestartDoesNotRedeliver()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.SubmitAsync("reply:offset", "text");
        var card = await h.WaitForCardAsync("reply:offset");
        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        await h.Control.WaitForUpdateConfirmedAsync(press.UpdateId, TelegramHarness.Wait);
        await Eventually.TrueAsync(() => h.Host.Store.GetSetting(UpdatePoller.OffsetSetting) == (press.UpdateId + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), "the stored offset");

        await h.RestartHostAsync();
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);

        var polls = h.Control.GetCalls("getUpdates");
        Assert.Equal((press.UpdateId + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), polls[^1].Parameters["offset"]);
    }

    /// <summary>
    /// A batch whose ids are not ascending is handled in id order: the offset never moves back over handled updates (taken
    /// from the last, an older id, it did, and the updates after it in id order came again and were handled twice), nor past
    /// one not handled yet (a crash between them would lose it).
    /// </summary>
    [Fact]
    public async Task Poll_BatchOutOfIdOrder_HandledInIdOrderEachOnce()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        UserMessage? older = null, first = null, second = null;

        // While the service is down, so the three come in one batch: the oldest handed over last.
        await h.RestartHostAsync(whileStopped: () =>
        {
            older = h.Control.SendUserMessage("/status reply:older");
            first = h.Control.SendUserMessage("/status reply:first");
            second = h.Control.SendUserMessage("/status reply:second");
            h.Control.DeliverLast(older.UpdateId);
        });
        await h.Control.WaitForUpdateConfirmedAsync(second!.UpdateId, TelegramHarness.Wait);
        var next = h.Control.SendUserMessage("/status reply:next");
        await h.Control.WaitForUpdateConfirmedAsync(next.UpdateId, TelegramHarness.Wait);
        // Replies are sent off the poller (ApproverReplies), in order, after their update is confirmed: the last one's says all are out.
        await h.Control.WaitForMessageAsync(m => m.Text?.StartsWith("No draft reply:next", StringComparison.Ordinal) == true, TelegramHarness.Wait);

        var answered = h.Control.GetMessages(h.ChatId).Where(m => m.Text?.StartsWith("No draft", StringComparison.Ordinal) == true).Select(m => m.Text!.Split(' ')[2]);
        Assert.Equal(["reply:older", "reply:first", "reply:second", "reply:next"], answered);
        Assert.Equal((next.UpdateId + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), h.Host.Store.GetSetting(UpdatePoller.OffsetSetting));
        Assert.DoesNotContain(h.Control.GetCalls("getUpdates"), c => c.Parameters.TryGetValue("offset", out var offset)
            && long.Parse(offset, System.Globalization.CultureInfo.InvariantCulture) is var o && o > older!.UpdateId && o <= second.UpdateId);
    }

    /// <summary>
    /// After a week without updates Telegram chooses the next update_id afresh, often below the offset the bot polls with,
    /// and hands the new updates over all the same. The offset follows them down; kept at its old height, it confirmed
    /// nothing, and the same update came, and was answered, at every poll.
    /// </summary>
    [Fact]
    public async Task Poll_UpdateIdsChosenAfreshBelowTheOffset_EachHandledOnceAndTheOffsetFollows()
    {
        await using var h = await TelegramHarness.StartAsync();
        var before = h.Control.SendUserMessage("/status reply:before");
        await h.Control.WaitForUpdateConfirmedAsync(before.UpdateId, TelegramHarness.Wait);
        await Eventually.TrueAsync(() => h.Host.Store.GetSetting(UpdatePoller.OffsetSetting) == (before.UpdateId + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), "the offset stored");

        h.Control.RestartUpdateIdsAt(before.UpdateId - 500);
        var after = h.Control.SendUserMessage("/status reply:after");
        var next = h.Control.SendUserMessage("/status reply:next");
        await h.Control.WaitForUpdateConfirmedAsync(next.UpdateId, TelegramHarness.Wait);
        await h.Control.WaitForMessageAsync(m => m.Text?.StartsWith("No draft reply:next", StringComparison.Ordinal) == true, TelegramHarness.Wait);

        Assert.True(after.UpdateId < before.UpdateId);
        var answered = h.Control.GetMessages(h.ChatId).Where(m => m.Text?.StartsWith("No draft", StringComparison.Ordinal) == true).Select(m => m.Text!.Split(' ')[2]);
        Assert.Equal(["reply:before", "reply:after", "reply:next"], answered);
        Assert.Equal((next.UpdateId + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), h.Host.Store.GetSetting(UpdatePoller.OffsetSetting));
    }

    [Fact]
    public async Task Start_DeleteWebhookBeforeTheFirstPoll_UpdatesWaitingAreKept()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        UserMessage? sent = null;

        await h.RestartHostAsync(whileStopped: () => sent = h.Control.SendUserMessage("/pending"));
        await h.Control.WaitForUpdateConfirmedAsync(sent!.UpdateId, TelegramHarness.Wait);
        // The reply is sent off the poller (ApproverReplies), after the update is confirmed.
        await h.Control.WaitForMessageAsync(m => m.Text?.StartsWith("Nothing awaits", StringComparison.Ordinal) == true, TelegramHarness.Wait);

        var calls = h.Control.GetCalls();
        var webhooks = calls.Where(c => c.Method == "deleteWebhook").ToList();
        Assert.Equal(2, webhooks.Count);
        Assert.All(webhooks, c => Assert.True(c.Ok));
        Assert.All(webhooks, c => Assert.NotEqual("true", c.Parameters.GetValueOrDefault("drop_pending_updates")));
        // Each start deletes the webhook first (getUpdates is refused while one is set), then polls.
        Assert.Equal("deleteWebhook", calls[0].Method);
        Assert.Contains(calls, c => c.Method == "getUpdates" && c.Sequence > webhooks[1].Sequence && c.Ok);
        Assert.Contains(h.Control.GetMessages(), m => m.Text?.StartsWith("Nothing awaits", StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task Poll_AnotherInstancePollsTheSameBot_409LoggedBackedOffAndTheBotKeepsWorking()
    {
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);

        // A second instance's getUpdates: Telegram ends the one pending with 409 Conflict.
        using (var http = new HttpClient { BaseAddress = h.Sandbox.BaseUrl })
        using (var other = await http.PostAsJsonAsync($"/bot{h.Sandbox.Token}/getUpdates", new { timeout = 0 }))
        {
            Assert.True(other.IsSuccessStatusCode);
        }
        var conflict = await h.Control.WaitForCallAsync(c => c.Method == "getUpdates" && c.StatusCode == 409, TelegramHarness.Wait);

        await h.SubmitAsync("reply:after-409", "text");
        var card = await h.WaitForCardAsync("reply:after-409");
        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);

        Assert.Equal(DraftState.Approved, h.Host.Store.Get("reply:after-409")!.State);
        Assert.Contains(h.Control.GetCalls("getUpdates"), c => c.Sequence > conflict.Sequence && c.Ok);
        var logged = Assert.Single(logs.Entries, e => e.Category.EndsWith(nameof(UpdatePoller), StringComparison.Ordinal) && e.Message.Contains("getUpdates conflict", StringComparison.Ordinal));
        Assert.Equal(LogLevel.Warning, logged.Level);
        Assert.Contains("terminated by other getUpdates request", logged.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Poll_409Repeatedly_EachRetryBacksOffLongerNeverFatal()
    {
        // The poller waits on a clock the test moves: each backoff is seen as it begins, and ends when the test says.
        var clock = new SignallingClock();
        await using var h = await TelegramHarness.StartAsync(["ApprovalBot:Telegram:RetryBaseDelayMs=100"], services: s => s.UseClock<UpdatePoller>(clock));
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        h.Control.InjectFault("getUpdates", SandboxFault.Error(409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"), times: 3);
        // Ends the pending poll, so the next three polls meet the faults.
        h.Control.SendUserMessage("/pending");
        var command = h.Control.SendUserMessage("/pending");

        // Backoff 100, 200, then 400 ms: each conflict waits twice as long as the one before, and the next poll only comes after it.
        foreach (var (backoff, conflicts) in new[] { (100, 1), (200, 2), (400, 3) })
        {
            var waitingSince = clock.GetUtcNow();
            Assert.Equal(waitingSince + TimeSpan.FromMilliseconds(backoff), await clock.NextTimerAsync(TelegramHarness.Wait));
            Assert.Equal(conflicts, h.Control.GetCalls("getUpdates").Count(c => c.StatusCode == 409));
            clock.Advance(TimeSpan.FromMilliseconds(backoff));
        }

        // Confirmed, so a poll after the three conflicts went through.
        await h.Control.WaitForUpdateConfirmedAsync(command.UpdateId, TelegramHarness.Wait);
        Assert.Equal(3, h.Control.GetCalls("getUpdates").Count(c => c.StatusCode == 409));
    }

    /// <summary>
    /// A second program polling with the same token (a dev copy) for good: Telegram gives each update to one of the two, so
    /// taps go missing here. One conflict is only a Warning (a restart can leave one behind); from the third in a row the
    /// cause is logged at Error and the approvers are told in the chat, once however long it lasts; then polling carries on.
    /// </summary>
    [Fact]
    public async Task Poll_AnotherProgramKeepsPollingTheSameBot_ErrorNamesTheCauseApproversToldOnceBotWorksOnceItStops()
    {
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        using var stopOther = new CancellationTokenSource();
        var other = Task.Run(async () =>
        {
            using var http = new HttpClient { BaseAddress = h.Sandbox.BaseUrl };
            while (!stopOther.IsCancellationRequested)
            {
                // Each of its polls ends ours with 409, and each of ours ends its own, as with two real instances.
                using var reply = await http.PostAsJsonAsync($"/bot{h.Sandbox.Token}/getUpdates", new { timeout = 1 }, CancellationToken.None);
            }
        });

        var notice = await h.Control.WaitForMessageAsync(m => m.ChatId == h.ChatId && m.Text == PollTrouble.OtherPollerNotice, TelegramHarness.Wait);
        var reported = CountConflicts(h);
        await Eventually.TrueAsync(() => CountConflicts(h) >= reported + 6, "more conflicts after the notice");
        await stopOther.CancelAsync();
        await other;

        await h.SubmitAsync("reply:after-other-poller", "text");
        var card = await h.WaitForCardAsync("reply:after-other-poller");
        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        Assert.Equal(DraftState.Approved, h.Host.Store.Get("reply:after-other-poller")!.State);
        Assert.Single(h.Control.GetMessages(h.ChatId), m => m.Text == PollTrouble.OtherPollerNotice);
        var error = Assert.Single(logs.Entries, e => e.Level == LogLevel.Error && e.Category == typeof(UpdatePoller).FullName);
        Assert.Equal("AnotherPollerForThisBot", error.EventId.Name);
        Assert.Contains("terminated by other getUpdates request", error.Message, StringComparison.Ordinal);
        Assert.Contains("same token", error.Message, StringComparison.Ordinal);
    }

    private static int CountConflicts(TelegramHarness h) => h.Control.GetCalls("getUpdates").Count(c => c.StatusCode == 409);

    /// <summary>
    /// A webhook set for the bot while it runs (another deployment in webhook mode): its updates go there, and getUpdates is
    /// refused with 409 until it is deleted. The poller says so at Error, deletes it as at start, tells the approvers once, and polls again.
    /// </summary>
    [Fact]
    public async Task Poll_WebhookSetWhileRunning_DeletedAgainErrorNamesItApproversToldOncePollingResumes()
    {
        const string webhookActive = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first";
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        var before = h.Control.GetCalls("deleteWebhook").Count;
        h.Control.InjectFault("getUpdates", SandboxFault.Error(409, webhookActive), times: 2);
        h.Control.SendUserMessage("/pending"); // ends the pending poll, so the next two meet the faults

        var command = h.Control.SendUserMessage("/help");
        await h.Control.WaitForUpdateConfirmedAsync(command.UpdateId, TelegramHarness.Wait);

        var conflicts = h.Control.GetCalls("getUpdates").Where(c => c.StatusCode == 409).ToList();
        Assert.Equal(2, conflicts.Count);
        var deletes = h.Control.GetCalls("deleteWebhook").Skip(before).ToList();
        Assert.Equal(2, deletes.Count);
        Assert.All(deletes, d => Assert.NotEqual("true", d.Parameters.GetValueOrDefault("drop_pending_updates")));
        Assert.True(deletes[0].Sequence > conflicts[0].Sequence && deletes[0].Sequence < conflicts[1].Sequence);
        Assert.Single(h.Control.GetMessages(h.ChatId), m => m.Text == PollTrouble.WebhookNotice);
        var error = Assert.Single(logs.Entries, e => e.Level == LogLevel.Error && e.Category == typeof(UpdatePoller).FullName);
        Assert.Equal("WebhookSetForThisBot", error.EventId.Name);
        Assert.Contains("webhook is active", error.Message, StringComparison.Ordinal);
    }

    public static TheoryData<bool> WebhookFirst => new() { true, false };

    /// <summary>
    /// Both causes in one episode (a webhook set and deleted, then a second program polling; or the other way round): each
    /// is its own Error and its own notice, as each has its own way out. Before, the first cause's report stood for the
    /// episode: after a webhook notice saying taps work again, a second poller was logged at Debug only.
    /// </summary>
    [Theory]
    [MemberData(nameof(WebhookFirst))]
    public async Task Poll_WebhookAndAnotherPollerInOneEpisode_EachCauseLoggedAtErrorAndToldOnce(bool webhookFirst)
    {
        var webhook = SandboxFault.Error(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
        var poller = SandboxFault.Error(409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running");
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        foreach (var (fault, times) in webhookFirst ? new[] { (webhook, 1), (poller, 4) } : [(poller, 4), (webhook, 1)])
        {
            h.Control.InjectFault("getUpdates", fault, times);
        }
        h.Control.SendUserMessage("/pending"); // ends the pending poll, so the next five meet the faults

        var command = h.Control.SendUserMessage("/help");
        await h.Control.WaitForUpdateConfirmedAsync(command.UpdateId, TimeSpan.FromSeconds(30));

        Assert.Equal(5, CountConflicts(h));
        Assert.Single(h.Control.GetMessages(h.ChatId), m => m.Text == PollTrouble.WebhookNotice);
        Assert.Single(h.Control.GetMessages(h.ChatId), m => m.Text == PollTrouble.OtherPollerNotice);
        var errors = logs.Entries.Where(e => e.Level == LogLevel.Error && e.Category == typeof(UpdatePoller).FullName).Select(e => e.EventId.Name).ToList();
        Assert.Equal(webhookFirst ? ["WebhookSetForThisBot", "AnotherPollerForThisBot"] : ["AnotherPollerForThisBot", "WebhookSetForThisBot"], errors);
    }

    /// <summary>
    /// The token revoked in BotFather while the service runs: every call is answered 401 from then on. The poller says at
    /// Error, once, that the token is refused and what to do, and keeps backing off instead of logging a warning per poll.
    /// </summary>
    [Fact]
    public async Task Poll_TokenRevokedWhileRunning_ErrorNamesTheTokenOnceAndPollingBacksOff()
    {
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);

        h.Control.RevokeToken();
        // An update of a kind the bot ignores ends the pending poll; the next ones carry the old token.
        h.Control.EnqueueRawUpdate("""{"update_id":0,"poll":{"id":"p"}}""");
        await Eventually.TrueAsync(() => h.Control.GetCalls("getUpdates").Count(c => c.StatusCode == 401) >= 4, "four refused polls");

        var error = Assert.Single(logs.Entries, e => e.Level == LogLevel.Error && e.Category == typeof(UpdatePoller).FullName);
        Assert.Equal("BotTokenRefused", error.EventId.Name);
        Assert.Contains("401 Unauthorized", error.Message, StringComparison.Ordinal);
        Assert.Contains("ApprovalBot:Telegram:Token", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(h.Sandbox.Settings.Token.Split(':')[1], error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(logs.Entries, e => e.Category == typeof(UpdatePoller).FullName && e.Level == LogLevel.Warning);
        // Backing off: the wait between two refused polls grows (20 ms base, doubling).
        var refused = h.Control.GetCalls("getUpdates").Where(c => c.StatusCode == 401).Select(c => c.At).ToList();
        Assert.True(refused[^1] - refused[^2] >= TimeSpan.FromMilliseconds(40), $"{refused[^1] - refused[^2]}");
    }

    /// <summary>
    /// SQLITE_BUSY reaches the poller as StoreUnavailableException (the writer's BEGIN IMMEDIATE fails and the whole batch is
    /// answered unavailable), so the update is polled again rather than skipped.
    /// </summary>
    [Fact]
    public async Task Poll_AnotherProcessHoldsTheWriteLockPastTheBusyTimeout_TapNotSkippedDecidedOnceTheLockIsGone()
    {
        const string id = "reply:busy";
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(["ApprovalBot:BusyTimeoutMs=1000"], services: s => s.AddSingleton<ILoggerProvider>(logs));
        var card = await h.SubmitCardedAsync(id, "text");

        // Someone else (sqlite3, a backup script) takes the database's write lock and keeps it past BusyTimeoutMs.
        PressedButton press;
        using (SqliteFile.HoldWriteLock(Path.Combine(h.DataDirectory, "approvals.db")))
        {
            press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
            await Eventually.TrueAsync(
                () => logs.Entries.Any(e => e.Category == typeof(UpdatePoller).FullName && e.Level >= LogLevel.Error && Equals(e.Properties.GetValueOrDefault("UpdateId"), press.UpdateId)),
                "the poller to fail handling the tap");
        }

        var answer = await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        Assert.Contains("Approved", answer.Text);
        Assert.Equal(DraftState.Approved, h.Host.Store.Get(id)!.State);
        Assert.Single(h.Host.Store.Events(id), e => e.Type == "decided");
        Assert.DoesNotContain(logs.Entries, e => e.Message.Contains("skipped", StringComparison.Ordinal));
    }

    /// <summary>
    /// The store stays away (another process holds the write lock past BusyTimeoutMs) while a tap waits: the tap is polled
    /// again after a backoff that doubles each time it cannot be committed (100, 200, 400, 800 ms on the poller's clock), like the
    /// poller's other waits on a failure, not at one fixed pace for as long as the outage lasts; once the store is back, it is decided.
    /// </summary>
    [Fact]
    public async Task Poll_StoreAwayWhileATapWaits_PolledAgainWithAGrowingBackoffThenDecided()
    {
        const string id = "reply:busy-backoff";
        var clock = new SignallingClock(reportDueWithin: TimeSpan.FromMinutes(2));
        await using var h = await TelegramHarness.StartAsync(
            ["ApprovalBot:BusyTimeoutMs=100", "ApprovalBot:Telegram:RetryBaseDelayMs=100"], services: s => s.UseClock<UpdatePoller>(clock));
        var card = await h.SubmitCardedAsync(id, "text");

        PressedButton press;
        using (SqliteFile.HoldWriteLock(Path.Combine(h.DataDirectory, "approvals.db")))
        {
            press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
            foreach (var backoff in new[] { 100, 200, 400, 800 })
            {
                var waitingSince = clock.GetUtcNow();
                Assert.Equal(waitingSince + TimeSpan.FromMilliseconds(backoff), await clock.NextTimerAsync(TelegramHarness.Wait));
                if (backoff < 800)
                {
                    clock.Advance(TimeSpan.FromMilliseconds(backoff));
                }
            }
            // The fourth backoff is under way: the lock goes, and the poll after it commits the tap.
        }
        clock.Advance(TimeSpan.FromMilliseconds(800));

        Assert.Contains("Approved", (await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait)).Text);
        Assert.Equal(DraftState.Approved, h.Host.Store.Get(id)!.State);
        Assert.Single(h.Host.Store.Events(id), e => e.Type == "decided");
    }
}
