using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Sandbox;
using ApprovalBot.Tests.Cli;
using ApprovalBot.Tests.Execution;
using ApprovalBot.Telegram.Commands;
using ApprovalBot.Telegram.Updates;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Tests.Telegram;

public sealed class CommandRouterTests
{
    [Fact]
    public async Task Start_FromStrangerInPrivateChat_RepliesChatAndUserIdOnly()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.SubmitAsync("reply:secret-draft", "secret");
        await h.WaitForCardAsync("reply:secret-draft");
        var stranger = h.Control.StrangerId;

        h.Control.SendUserMessage("/start", fromUserId: stranger);
        var reply = await h.Control.WaitForMessageAsync(m => m.ChatId == stranger, TelegramHarness.Wait);

        Assert.Contains("Your user id: " + stranger.ToString(CultureInfo.InvariantCulture), reply.Text);
        Assert.Contains("Chat id: " + stranger.ToString(CultureInfo.InvariantCulture), reply.Text);
        Assert.DoesNotContain("secret", reply.Text);
    }

    [Theory]
    [InlineData("/start")]
    [InlineData("/start@{bot}")]
    public async Task Start_FromStrangerInGroupThatIsNotChatId_RepliesChatAndUserIdOnlyAndRecorded(string text)
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.SubmitAsync("reply:secret-draft", "secret");
        await h.WaitForCardAsync("reply:secret-draft");
        var group = h.Control.GroupChatId;
        var stranger = h.Control.StrangerId;
        Assert.NotEqual(h.ChatId, group);

        h.Control.SendUserMessage(text.Replace("{bot}", h.Control.BotUsername, StringComparison.Ordinal), fromUserId: stranger, chatId: group);
        var reply = await h.Control.WaitForMessageAsync(m => m.ChatId == group, TelegramHarness.Wait);
        await h.Control.AllRepliesSentAsync(h.ChatId);

        Assert.Contains("Chat id: " + group.ToString(CultureInfo.InvariantCulture), reply.Text);
        Assert.Contains("Your user id: " + stranger.ToString(CultureInfo.InvariantCulture), reply.Text);
        Assert.DoesNotContain("secret", reply.Text);
        Assert.DoesNotContain("reply:", reply.Text);
        Assert.Single(h.Control.GetMessages(group));
        var security = Assert.Single(h.Host.Store.EventsOfType(CallbackRouter.SecurityEvent));
        Assert.Contains("\"reason\":\"setup_command\"", security.Details);
        Assert.Contains("\"chat_id\":" + group.ToString(CultureInfo.InvariantCulture), security.Details);
        Assert.Contains("\"user_id\":" + stranger.ToString(CultureInfo.InvariantCulture), security.Details);
    }

    /// <summary>
    /// An approver's /start in a chat that is not ChatId (a private chat with the bot while cards go to a group) said "You
    /// are an approver. /help lists the commands.", and /help there is refused: the answer names where commands work.
    /// </summary>
    [Fact]
    public async Task Start_FromApproverInChatThatIsNotChatId_SaysCommandsWorkInTheApproversChatOnly()
    {
        await using var h = await TelegramHarness.StartAsync();
        var group = h.Control.GroupChatId;

        h.Control.SendUserMessage("/start", chatId: group);
        var reply = await h.Control.WaitForMessageAsync(m => m.ChatId == group, TelegramHarness.Wait);

        Assert.Contains("Chat id: " + group.ToString(CultureInfo.InvariantCulture), reply.Text);
        Assert.DoesNotContain("/help lists the commands", reply.Text, StringComparison.Ordinal);
        Assert.Contains("only in the approvers' chat " + h.ChatId.ToString(CultureInfo.InvariantCulture), reply.Text, StringComparison.Ordinal);

        h.Control.SendUserMessage("/start");
        var here = await h.Control.WaitForMessageAsync(m => m.ChatId == h.ChatId && m.Text?.Contains("Chat id", StringComparison.Ordinal) == true, TelegramHarness.Wait);
        Assert.Contains("You are an approver. /help lists the commands.", here.Text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/pending", true)]
    [InlineData("/help", true)]
    [InlineData("/status reply:secret-draft", true)]
    [InlineData("/pending", false)]
    [InlineData("/help", false)]
    public async Task OtherCommands_InGroupThatIsNotChatId_SilentlyRefusedEvenForApprover(string text, bool byApprover)
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.SubmitAsync("reply:secret-draft", "secret");
        await h.WaitForCardAsync("reply:secret-draft");
        var group = h.Control.GroupChatId;

        h.Control.SendUserMessage(text, fromUserId: byApprover ? h.Control.ApproverId : h.Control.StrangerId, chatId: group);
        // Not the update's confirmation: an approver's reply would be sent after it.
        await h.Control.AllRepliesSentAsync(h.ChatId);

        Assert.Empty(h.Control.GetMessages(group));
        Assert.Contains("command_not_authorized", Assert.Single(h.Host.Store.EventsOfType(CallbackRouter.SecurityEvent)).Details);
    }

    /// <summary>
    /// An admin of the approvers' group with "Remain anonymous" on: Telegram sends the command from @GroupAnonymousBot
    /// (id 1087968824) with sender_chat the group, so who sent it is unknown. Refused and recorded as before, but answered
    /// once in the group with how to send it (it used to be refused in silence); nothing else happens.
    /// </summary>
    [Fact]
    public async Task Pending_FromAnonymousAdminOfTheApproversGroup_RefusedWithAHintToTurnOffRemainAnonymous()
    {
        await using var h = await TelegramHarness.StartAsync();
        var group = h.Control.GroupChatId;
        await h.RestartHostAsync(settings: [$"ApprovalBot:Telegram:ChatId={group.ToString(CultureInfo.InvariantCulture)}"]);
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        JsonObject Group() => new() { ["id"] = group, ["type"] = "supergroup", ["title"] = "Approvers" };

        var update = h.Control.EnqueueRawUpdate(new JsonObject
        {
            ["update_id"] = 1,
            ["message"] = new JsonObject
            {
                ["message_id"] = 7, ["date"] = 1767225600, ["chat"] = Group(), ["sender_chat"] = Group(),
                ["from"] = new JsonObject { ["id"] = 1087968824, ["is_bot"] = true, ["first_name"] = "Group", ["username"] = "GroupAnonymousBot" },
                ["text"] = "/pending",
                ["entities"] = new JsonArray(new JsonObject { ["type"] = "bot_command", ["offset"] = 0, ["length"] = 8 }),
            },
        }.ToJsonString());
        var reply = await h.Control.WaitForMessageAsync(m => m.ChatId == group, TelegramHarness.Wait);
        await h.Control.WaitForUpdateConfirmedAsync(update, TelegramHarness.Wait);

        Assert.Contains("Remain anonymous", reply.Text, StringComparison.Ordinal);
        Assert.Single(h.Control.GetMessages(group));
        Assert.Contains("command_not_authorized", Assert.Single(h.Host.Store.EventsOfType(CallbackRouter.SecurityEvent)).Details);
    }

    [Fact]
    public async Task Pending_FromStranger_RefusedAndRecorded()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        var stranger = h.Control.StrangerId;

        var sent = h.Control.SendUserMessage("/pending", fromUserId: stranger);
        var reply = await h.Control.WaitForMessageAsync(m => m.ChatId == stranger, TelegramHarness.Wait);

        Assert.Contains("Not authorized", reply.Text);
        await h.Control.WaitForUpdateConfirmedAsync(sent.UpdateId, TelegramHarness.Wait);
        Assert.Contains("command_not_authorized", Assert.Single(h.Host.Store.EventsOfType(CallbackRouter.SecurityEvent)).Details);
    }

    [Fact]
    public async Task Command_FromStrangerWithNameOfAWholeMessage_RecordedShortened()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        var stranger = h.Control.StrangerId;

        var sent = h.Control.SendUserMessage("/" + new string('x', 4000), fromUserId: stranger);
        var reply = await h.Control.WaitForMessageAsync(m => m.ChatId == stranger, TelegramHarness.Wait);
        await h.Control.WaitForUpdateConfirmedAsync(sent.UpdateId, TelegramHarness.Wait);

        Assert.Contains("Not authorized", reply.Text);
        var recorded = Assert.Single(h.Host.Store.EventsOfType(CallbackRouter.SecurityEvent));
        using var details = System.Text.Json.JsonDocument.Parse(recorded.Details!);
        Assert.Equal(new string('x', RecordedText.MaxLength - 1) + "…", details.RootElement.GetProperty("command").GetString());
        Assert.True(recorded.Details!.Length < 1000, recorded.Details);
    }

    [Fact]
    public async Task Messages_FromStrangerWithLongNamesTextCaptionAndCommand_EachRecordBoundedRefusalsAnsweredServiceServes()
    {
        var logs = new CapturedLogs();
        await using var h = await TelegramHarness.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        var stranger = h.Control.StrangerId;
        // Names far past Telegram's 64, 64 and 32 characters. The first name is a letter and then emoji, so the bound falls
        // inside a surrogate pair.
        var firstName = "F" + string.Concat(Enumerable.Repeat("😀", 2000));
        var displayName = firstName + " " + new string('l', 4000) + " (@" + new string('u', 4000) + ")";
        var messageId = 100;
        long Send(string field, string value) => h.Control.EnqueueRawUpdate(new JsonObject
        {
            ["update_id"] = 0,
            ["message"] = new JsonObject
            {
                ["message_id"] = ++messageId,
                ["date"] = 0,
                ["from"] = new JsonObject { ["id"] = stranger, ["is_bot"] = false, ["first_name"] = firstName, ["last_name"] = new string('l', 4000), ["username"] = new string('u', 4000) },
                ["chat"] = new JsonObject { ["id"] = stranger, ["type"] = "private" },
                [field] = value,
            },
        }.ToJsonString());

        Send("text", new string('t', 4000));
        Send("caption", "/pending " + new string('c', 4000));
        Send("text", "/pending " + new string('a', 4000));
        var last = Send("text", "/" + new string('n', 4000));
        await h.Control.WaitForUpdateConfirmedAsync(last, TelegramHarness.Wait);
        h.Control.SendUserMessage("/help");
        await h.Control.WaitForMessageAsync(m => m.ChatId == h.ChatId && m.Text?.StartsWith("Commands", StringComparison.Ordinal) == true, TelegramHarness.Wait);

        // A text or a caption that is not a command is neither answered nor recorded; both commands are, as before.
        Assert.Equal(2, h.Control.GetMessages(stranger).Count);
        Assert.All(h.Control.GetMessages(stranger), m => Assert.StartsWith("⛔ Not authorized", m.Text, StringComparison.Ordinal));
        var records = h.Host.Store.EventsOfType(CallbackRouter.SecurityEvent);
        Assert.Equal(2, records.Count);
        foreach (var record in records)
        {
            // 81 emoji: an 82nd would put half an emoji at the bound. Non-ASCII is stored escaped, 6 characters a unit.
            Assert.True(record.Details!.Length < 1500, $"{record.Details.Length} characters");
            var details = JsonDocument.Parse(record.Details).RootElement;
            Assert.Equal("F" + string.Concat(Enumerable.Repeat("😀", 81)) + "…", details.GetProperty("user_name").GetString());
            Assert.Equal(displayName.Length, details.GetProperty("user_name_length").GetInt32());
            Assert.DoesNotContain("aaaa", record.Details, StringComparison.Ordinal);
        }
        var pending = JsonDocument.Parse(records[0].Details!).RootElement;
        Assert.Equal("pending", pending.GetProperty("command").GetString());
        Assert.False(pending.TryGetProperty("command_length", out _));
        var named = JsonDocument.Parse(records[1].Details!).RootElement;
        Assert.Equal(new string('n', RecordedText.MaxLength - 1) + "…", named.GetProperty("command").GetString());
        Assert.Equal(4000, named.GetProperty("command_length").GetInt32());
        var security = logs.Entries.Where(e => e.Message.StartsWith("Security:", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, security.Count);
        Assert.All(security, e => Assert.True(e.Message.Length < 400, e.Message));
    }

    [Fact]
    public async Task UnknownCommand_FromApproverWithNameOfAWholeMessage_AnsweredWithinTelegramsLimit()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);

        h.Control.SendUserMessage("/" + new string('<', 4090));
        var reply = await h.Control.WaitForMessageAsync(m => m.ChatId == h.ChatId && m.Text is { } t && t.StartsWith("Unknown command", StringComparison.Ordinal), TelegramHarness.Wait);

        Assert.Contains("/" + new string('<', RecordedText.MaxLength - 1) + "…", reply.Text);
    }

    [Fact]
    public async Task Pending_FromStrangerDeliveredTwice_OneSecurityEvent()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        var stranger = h.Control.StrangerId;
        var sent = h.Control.SendUserMessage("/pending", fromUserId: stranger);
        await h.Control.WaitForUpdateConfirmedAsync(sent.UpdateId, TelegramHarness.Wait);

        var again = h.RedeliverMessage(sent, "/pending", stranger);
        await h.Control.WaitForUpdateConfirmedAsync(again, TelegramHarness.Wait);

        Assert.Contains("command_not_authorized", Assert.Single(h.Host.Store.EventsOfType(CallbackRouter.SecurityEvent)).Details);
    }

    [Fact]
    public async Task Pending_FromApprover_ListsAwaitingDraftsOldestFirst()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.SubmitAsync("reply:p1", "one");
        await h.SubmitAsync("reply:p2", "two");
        await h.WaitForStateAsync("reply:p2", DraftState.Carded);

        h.Control.SendUserMessage("/pending");
        var reply = await h.Control.WaitForMessageAsync(m => m.Text?.StartsWith("Awaiting a decision", StringComparison.Ordinal) == true, TelegramHarness.Wait);

        Assert.True(reply.Text!.IndexOf("reply:p1", StringComparison.Ordinal) < reply.Text.IndexOf("reply:p2", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Pending_ManyDraftsWithLongIdsAgentsAndCardErrors_FitsOneMessageAndSaysHowManyMore()
    {
        const int drafts = 30;
        await using var h = await TelegramHarness.StartAsync();
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        // Every card fails for good with a long reason, so each line carries an id, an agent and a card error at their longest.
        h.Control.InjectFault("sendMessage", SandboxFault.Error(400, "Bad Request: can't parse entities: " + new string('r', 250)), times: drafts);
        await using (var client = await h.Host.ConnectAsync())
        {
            for (var i = 0; i < drafts; i++)
            {
                var response = await client.SubmitAsync(new DraftSubmission
                {
                    Id = $"reply:{i:D2}:" + new string('i', 190), Kind = "reply", Agent = new string('a', 200), Text = "text",
                });
                Assert.True(response.Ok, response.Error?.Message);
            }
        }
        await Eventually.TrueAsync(() => h.Host.Store.AwaitingDecision(drafts).Count(d => d.CardError is not null) == drafts, "every card to fail");

        h.Control.SendUserMessage("/pending");
        var reply = await h.Control.WaitForMessageAsync(m => m.Text?.StartsWith("Awaiting a decision", StringComparison.Ordinal) == true, TelegramHarness.Wait);

        Assert.True(reply.Text!.Length <= 4096, $"{reply.Text.Length} characters");
        var shown = reply.Text.Split('\n').Count(l => l.StartsWith("• ", StringComparison.Ordinal));
        Assert.InRange(shown, 1, drafts - 1);
        Assert.StartsWith("• reply:00:", reply.Text.Split('\n')[1], StringComparison.Ordinal);
        Assert.Contains("card failed: 400 Bad Request: can't parse entities", reply.Text, StringComparison.Ordinal);
        Assert.EndsWith($"…and {drafts - shown} more; approvalctl list --state pending and approvalctl list --state carded list them.", reply.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pending_ReplyRefusedAsTooLong_FallbackNamesCliCommandsThatListTheDrafts()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.SubmitAsync("reply:listed", "text");
        await h.WaitForStateAsync("reply:listed", DraftState.Carded);
        h.Control.InjectFault("sendMessage", SandboxFault.Error(400, "Bad Request: message is too long"));

        h.Control.SendUserMessage("/pending");
        var reply = await h.Control.WaitForMessageAsync(m => m.Text?.Contains("too long", StringComparison.Ordinal) == true, TelegramHarness.Wait);

        var named = Regex.Matches(reply.SourceText!, "<code>(approvalctl [^<]+)</code>").Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(["approvalctl list --state pending", "approvalctl list --state carded"], named);
        var listed = "";
        foreach (var command in named)
        {
            var run = await CliRunner.RunAsync([.. command.Split(' ').Skip(1), "--pipe", h.Host.PipeName]);
            Assert.True(run.ExitCode == 0, run.ToString());
            listed += run.Stdout;
        }
        Assert.Contains("reply:listed", listed, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_FromApprover_ShowsStateAndDecision()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.SubmitAsync("reply:st", "text");
        var card = await h.WaitForCardAsync("reply:st");
        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Reject"));
        await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);

        h.Control.SendUserMessage("/status reply:st");
        var reply = await h.Control.WaitForMessageAsync(m => m.Text?.Contains("State: rejected", StringComparison.Ordinal) == true, TelegramHarness.Wait);

        Assert.Contains("Decision: rejected by " + h.Sandbox.Settings.ApproverName, reply.Text);
        Assert.DoesNotContain("/card", reply.Text, StringComparison.Ordinal);
    }

    /// <summary>/status and /card name a draft the same way, and a name no stored draft has gets the same answer from both.</summary>
    [Theory]
    [InlineData("/status reply:nope", "reply:nope")]
    [InlineData("/card reply:nope", "reply:nope")]
    [InlineData("/status #424242", "#424242")]
    [InlineData("/card #424242", "#424242")]
    public async Task StatusAndCard_NoSuchDraft_TheSameAnswer(string text, string key)
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);

        var sent = h.Control.SendUserMessage(text);
        var reply = await h.Control.WaitForMessageAsync(m => m.ChatId == h.ChatId && m.MessageId > sent.MessageId, TelegramHarness.Wait);

        Assert.Equal($"No draft {key} in the store. /pending lists the drafts awaiting a decision.", reply.Text);
        Assert.Equal($"No draft <code>{key}</code> in the store. /pending lists the drafts awaiting a decision.", reply.SourceText);
    }

    [Fact]
    public async Task Status_DraftAwaitingADecision_SaysHowToGetItsCardAgain()
    {
        await using var h = await TelegramHarness.StartAsync();
        var card = await h.SubmitCardedAsync("reply:waiting", "text");
        var seq = h.Host.Store.Get("reply:waiting")!.Seq;

        h.Control.SendUserMessage("/status reply:waiting");
        var reply = await h.Control.WaitForMessageAsync(m => m.Text?.Contains("State: carded", StringComparison.Ordinal) == true, TelegramHarness.Wait);

        Assert.Contains($"Card: message {card.MessageId} (gone from the chat? /card #{seq} sends it again)", reply.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_FromApprover_ListsEveryCommandWithItsDescriptionAndHowToDecide()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.SubmitAsync("reply:not-in-help", "secret");
        await h.WaitForCardAsync("reply:not-in-help");

        h.Control.SendUserMessage("/help");
        var reply = await h.Control.WaitForMessageAsync(m => m.Text?.StartsWith("Commands", StringComparison.Ordinal) == true, TelegramHarness.Wait);

        var commands = h.Host.Services.GetRequiredService<CommandRouter>().Commands;
        Assert.Equal(["card", "help", "pending", "start", "status"], commands.Select(c => c.Name));
        var lines = reply.Text!.Split('\n');
        Assert.Equal(
            ["Commands", "/card — Send a draft's card again: /card <id>", "/help — List the commands", "/pending — Drafts awaiting a decision, oldest first", "/start — Show this chat's id and your user id",
             "/status — Show one draft: /status <id>", "", "Cards come with ✅ Approve / ❌ Reject buttons; only approvers can use them. A card gone from the chat? /card <id> sends it again."],
            lines);
        Assert.DoesNotContain("secret", reply.Text);
        Assert.StartsWith("<b>Commands</b>\n/card — Send a draft's card again: /card &lt;id&gt;\n/help — List the commands\n", reply.SourceText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_SetMyCommands_RegisteredCommandsInMenu()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);

        var names = h.Control.GetCommands().Select(c => c.Command).ToList();

        Assert.Equal(["card", "help", "pending", "start", "status"], names.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("/status reply:1", "status", null, "reply:1")]
    [InlineData("/Pending@ApprovalBot", "pending", "ApprovalBot", "")]
    [InlineData("/help\nmore", "help", null, "more")]
    public void TryParse_CommandText_SplitsNameBotAndArguments(string text, string name, string? bot, string arguments)
    {
        Assert.True(CommandRouter.TryParse(text, out var n, out var b, out var a));
        Assert.Equal((name, bot, arguments), (n, b, a));
    }
}
