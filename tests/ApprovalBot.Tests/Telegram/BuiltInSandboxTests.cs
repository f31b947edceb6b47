using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ApprovalBot.Drafts;
using ApprovalBot.Execution;
using ApprovalBot.Sandbox;
using ApprovalBot.Telegram;
using ApprovalBot.Telegram.Sandbox;
using ApprovalBot.Tests.Execution;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Tests.Telegram;

public sealed class BuiltInSandboxTests
{
    [Fact]
    public async Task NoToken_HostRunsAgainstBuiltInSandbox_WholeFlowWorks()
    {
        await using var host = await TestHost.StartAsync(
            settings: ["ApprovalBot:Sandbox:Url=http://127.0.0.1:0", "ApprovalBot:Sandbox:RateLimits=false"],
            compose: b => b.AddTelegram());
        var sandbox = host.Services.GetRequiredService<BuiltInSandbox>().Server!;
        await using (var client = await host.ConnectAsync())
        {
            Assert.True((await client.SubmitAsync(new Client.DraftSubmission { Id = "reply:builtin", Kind = "reply", Agent = "a", Text = "hello" })).Ok);
        }

        var card = await sandbox.Control.WaitForMessageAsync(m => m.Text?.Contains("reply:builtin", StringComparison.Ordinal) == true, TelegramHarness.Wait);
        Assert.Equal(sandbox.PrivateChatId, card.ChatId);
        var press = sandbox.Control.PressButton(card.MessageId, card.AllButtons.First(b => b.Text.Contains("Approve", StringComparison.Ordinal)).CallbackData!);
        await sandbox.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);

        Assert.Equal(DraftState.Approved, host.Store.Get("reply:builtin")!.State);
    }

    [Fact]
    public async Task NoToken_StartUpLog_SaysTheSandboxUrlAndHowToSwitchToARealBot()
    {
        var logs = new CapturedLogs();
        await using var host = await TestHost.StartAsync(
            settings: ["ApprovalBot:Sandbox:Url=http://127.0.0.1:0", "ApprovalBot:Sandbox:RateLimits=false"],
            services: s => s.AddSingleton<ILoggerProvider>(logs),
            compose: b => b.AddTelegram());
        var sandbox = host.Services.GetRequiredService<BuiltInSandbox>().Server!;

        var line = Assert.Single(logs.Entries, e => e.Category == typeof(TelegramStartup).FullName);

        Assert.Equal(LogLevel.Warning, line.Level);
        Assert.Equal(sandbox.BaseUrl.ToString(), line.Properties["SandboxUrl"]);
        Assert.Contains(sandbox.BaseUrl.ToString(), line.Message, StringComparison.Ordinal);
        Assert.Contains("open it in a browser", line.Message, StringComparison.Ordinal);
        Assert.Contains("To use a real bot, set ApprovalBot:Telegram:Token", line.Message, StringComparison.Ordinal);
        Assert.Contains("ChatId and Approvers", line.Message, StringComparison.Ordinal);
        Assert.Contains("Connecting a real bot", line.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoToken_ChatIdAndApproversLeftFromARealBot_StartUpWarnsThatTheSandboxCannotUseThem()
    {
        // A ChatId and Approvers set for a real bot, then the token taken out to try something in the sandbox: the cards
        // were refused "chat not found" and the sandbox approver's taps "Not authorized", and the start said nothing.
        var logs = new CapturedLogs();
        await using var host = await TestHost.StartAsync(
            settings: ["ApprovalBot:Sandbox:Url=http://127.0.0.1:0", "ApprovalBot:Sandbox:RateLimits=false",
                "ApprovalBot:Telegram:ChatId=-1001234567890", "ApprovalBot:Telegram:Approvers:0=123456789"],
            services: s => s.AddSingleton<ILoggerProvider>(logs),
            compose: b => b.AddTelegram());

        var lines = logs.Entries.Where(e => e.Category == typeof(TelegramStartup).FullName && e.Level == LogLevel.Warning).Select(e => e.Message).ToList();

        Assert.Contains(lines, m => m.StartsWith("ApprovalBot:Telegram:ChatId is -1001234567890, a chat the built-in sandbox does not have (its chats are 1001, " +
            "the approver's private chat, and -1001, its group): every card sent there is refused \"chat not found\". Without a token leave ChatId unset " +
            "(or 0) for the sandbox's chat", StringComparison.Ordinal));
        Assert.Contains(lines, m => m.StartsWith("ApprovalBot:Telegram:Approvers does not list the sandbox's approver 1001", StringComparison.Ordinal)
            && m.Contains("refused \"Not authorized\"", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("ApprovalBot:Telegram:ChatId=-1001", "ApprovalBot:Telegram:Approvers:0=1001")]
    [InlineData("ApprovalBot:Telegram:ChatId=1001", "ApprovalBot:Telegram:Approvers:0=1001")]
    [InlineData("ApprovalBot:Telegram:ChatId=0", "ApprovalBot:MaxBatch=256")]
    public async Task NoToken_ChatIdAndApproversTheSandboxKnows_NoWarningAboutThem(string chat, string approvers)
    {
        var logs = new CapturedLogs();
        await using var host = await TestHost.StartAsync(
            settings: ["ApprovalBot:Sandbox:Url=http://127.0.0.1:0", "ApprovalBot:Sandbox:RateLimits=false", chat, approvers],
            services: s => s.AddSingleton<ILoggerProvider>(logs),
            compose: b => b.AddTelegram());

        Assert.Single(logs.Entries, e => e.Category == typeof(TelegramStartup).FullName);
    }

    // The sandbox keeps its chats in memory: a restart on the same data directory meets an empty chat.

    [Fact]
    public async Task Restart_DraftsAwaitingADecision_EachGetsANewCardThatDecidesItAndOnlyItsOwnCardChanges()
    {
        using var data = new TempDirectory();
        var texts = new Dictionary<string, string> { ["reply:wait-1"] = "first text, awaiting", ["reply:wait-2"] = "second text, awaiting" };
        var oldCards = new Dictionary<string, long>();
        await using (var first = await StartSandboxedAsync(data.Path))
        {
            foreach (var (id, text) in texts)
            {
                await SubmitAsync(first, id, text);
                oldCards[id] = (await first.WaitForStateAsync(id, DraftState.Carded, TelegramHarness.Wait)).CardMessageId!.Value;
            }
        }

        await using var second = await StartSandboxedAsync(data.Path);
        var sandbox = SandboxOf(second);
        var card1 = await WaitForCardAsync(sandbox, texts["reply:wait-1"]);
        var card2 = await WaitForCardAsync(sandbox, texts["reply:wait-2"]);
        await Eventually.TrueAsync(() => second.Store.Get("reply:wait-2")!.CardMessageId == card2.MessageId, "the second new card recorded");

        foreach (var (id, card) in new[] { ("reply:wait-1", card1), ("reply:wait-2", card2) })
        {
            var draft = second.Store.Get(id)!;
            Assert.Equal(DraftState.Carded, draft.State);
            Assert.Equal((sandbox.PrivateChatId, card.MessageId), (draft.CardChatId, draft.CardMessageId));
            var moved = JsonNode.Parse(Assert.Single(second.Store.Events(id), e => e.Type == "card_moved").Details!)!;
            Assert.Equal("sandbox_restarted", (string?)moved["reason"]);
            Assert.Equal(oldCards[id], (long?)moved["from_message_id"]);
            Assert.Equal(card.MessageId, (long?)moved["message_id"]);
        }

        var press = sandbox.Control.PressButton(card1.MessageId, TelegramHarness.ButtonData(card1, "Approve"));
        await sandbox.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        var decided = await sandbox.Control.WaitForEditAsync(sandbox.PrivateChatId, card1.MessageId, TelegramHarness.Wait);

        Assert.Equal(DraftState.Approved, second.Store.Get("reply:wait-1")!.State);
        Assert.Contains("Approved", decided.Text, StringComparison.Ordinal);
        Assert.Empty(decided.AllButtons);
        Assert.Equal(0, sandbox.Control.GetMessage(sandbox.PrivateChatId, card2.MessageId)!.EditCount);
        Assert.All(sandbox.Control.GetCalls("editMessageText"), c => Assert.Equal(card1.MessageId.ToString(CultureInfo.InvariantCulture), c.Parameters["message_id"]));
        AssertEachDraftShownOnItsOwnCardOnly(sandbox, second.Store, texts);
    }

    [Fact]
    public async Task Restart_DraftDecidedBefore_ItsOutcomeNeverShowsOnANewDraftsCard()
    {
        using var data = new TempDirectory();
        var texts = new Dictionary<string, string> { ["reply:decided"] = "decided before the restart", ["reply:after"] = "submitted after the restart" };
        long oldCard;
        await using (var first = await StartSandboxedAsync(data.Path))
        {
            var sandbox1 = SandboxOf(first);
            await SubmitAsync(first, "reply:decided", texts["reply:decided"]);
            var card = await WaitForCardAsync(sandbox1, texts["reply:decided"]);
            oldCard = (await first.WaitForStateAsync("reply:decided", DraftState.Carded, TelegramHarness.Wait)).CardMessageId!.Value;
            var press = sandbox1.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
            await sandbox1.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
            await sandbox1.Control.WaitForEditAsync(sandbox1.PrivateChatId, card.MessageId, TelegramHarness.Wait);
            await Eventually.TrueAsync(() => first.Store.Get("reply:decided")!.CardShowsCurrentState, "the decided card recorded as shown");
        }

        await using var second = await StartSandboxedAsync(data.Path);
        var sandbox = SandboxOf(second);
        await SubmitAsync(second, "reply:after", texts["reply:after"]);
        var newCard = await WaitForCardAsync(sandbox, texts["reply:after"]);
        await second.WaitForStateAsync("reply:after", DraftState.Carded, TelegramHarness.Wait);

        // The decided draft is executed now (a pull executor): its outcome goes to the card on record, from the earlier sandbox.
        await using (var executor = await second.ConnectAsync())
        {
            var claimed = Assert.Single((await executor.ClaimAsync("reply", leaseSeconds: 60)).Claimed!);
            Assert.True((await executor.CompleteAsync("reply:decided", claimed.Lease, "done")).Ok);
        }
        var edit = await sandbox.Control.WaitForCallAsync(
            c => c.Method == "editMessageText" && c.Parameters["message_id"] == oldCard.ToString(CultureInfo.InvariantCulture), TelegramHarness.Wait);

        Assert.NotEqual(oldCard, newCard.MessageId);
        Assert.Equal(400, edit.StatusCode);
        Assert.Equal(0, sandbox.Control.GetMessage(sandbox.PrivateChatId, newCard.MessageId)!.EditCount);
        AssertEachDraftShownOnItsOwnCardOnly(sandbox, second.Store, texts);
        await Eventually.TrueAsync(() => second.Store.Events("reply:decided").Any(e => e.Type == "card_edit_refused"), "the old card recorded as gone");
        Assert.Equal(DraftState.Executed, second.Store.Get("reply:decided")!.State);
    }

    [Fact]
    public async Task Killed_HostStartedAgainOnItsData_TheSandboxPageShowsTheCardAgainAndItsApproveDecides()
    {
        // What a user trying the service sees: the page of the sandbox the new process started.
        using var data = new TempDirectory();
        const string Text = "a reply written before the crash";
        await using (var first = await HostProcess.StartAsync(data.Path))
        {
            using var page = await SandboxPageAsync(first);
            await using (var client = await first.ConnectAsync())
            {
                Assert.True((await client.SubmitAsync(new Client.DraftSubmission { Id = "reply:crash", Kind = "reply", Agent = "a", Text = Text })).Ok);
            }
            await WaitForPageAsync(page, m => Mentions(m, Text) && HasButtons(m), "the card");
            await first.KillAsync();
        }

        await using var second = await HostProcess.StartAsync(data.Path);
        using var http = await SandboxPageAsync(second);
        var card = await WaitForPageAsync(http, m => Mentions(m, Text) && HasButtons(m), "the card sent again");
        var approve = card.GetProperty("buttons").EnumerateArray().SelectMany(row => row.EnumerateArray())
            .Single(b => b.GetProperty("text").GetString()!.Contains("Approve", StringComparison.Ordinal)).GetProperty("callback_data").GetString();
        using (var pressed = await http.PostAsJsonAsync("sandbox/press", new { message_id = card.GetProperty("message_id").GetInt32(), callback_data = approve }))
        {
            Assert.True(pressed.IsSuccessStatusCode, await pressed.Content.ReadAsStringAsync());
        }
        await using var agent = await second.ConnectAsync();
        var decided = await agent.WaitAsync("reply:crash", 15_000);
        var shown = await WaitForPageAsync(http, m => Mentions(m, Text) && !HasButtons(m), "the card showing the decision");

        Assert.Equal("approved", decided.Draft!.State);
        Assert.Equal(card.GetProperty("message_id").GetInt32(), shown.GetProperty("message_id").GetInt32());
        Assert.Contains("Approved", shown.GetProperty("text").GetString(), StringComparison.Ordinal);
        Assert.Single(await PageMessagesAsync(http), m => Mentions(m, Text));
    }

    private static async Task<HttpClient> SandboxPageAsync(HostProcess host)
    {
        // The pipe listens before the Telegram side starts.
        await host.WaitForOutputAsync("built-in Telegram sandbox at", TelegramHarness.Wait);
        var url = Regex.Match(host.Output, @"built-in Telegram sandbox at ""?(http://[^\s""]+/)").Groups[1].Value;
        Assert.False(string.IsNullOrEmpty(url), host.Output);
        return new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(30) };
    }

    private static async Task<IReadOnlyList<JsonElement>> PageMessagesAsync(HttpClient http)
    {
        using var doc = JsonDocument.Parse(await http.GetStringAsync("sandbox/chats/1001/transcript"));
        return [.. doc.RootElement.GetProperty("messages").EnumerateArray().Select(m => m.Clone())];
    }

    /// <summary>Long-polls the chat's transcript (the page's own signal) until a message matches.</summary>
    private static async Task<JsonElement> WaitForPageAsync(HttpClient http, Func<JsonElement, bool> match, string what)
    {
        var deadline = DateTime.UtcNow + TelegramHarness.Wait;
        long version = -1;
        while (DateTime.UtcNow < deadline)
        {
            using var doc = JsonDocument.Parse(await http.GetStringAsync($"sandbox/chats/1001/transcript?after_version={version}&wait_ms=2000"));
            version = doc.RootElement.GetProperty("version").GetInt64();
            foreach (var message in doc.RootElement.GetProperty("messages").EnumerateArray())
            {
                if (match(message))
                {
                    return message.Clone();
                }
            }
        }
        throw new TimeoutException("Timed out waiting for " + what + " on the sandbox page");
    }

    private static bool Mentions(JsonElement message, string text) =>
        message.GetProperty("text").ValueKind == JsonValueKind.String && message.GetProperty("text").GetString()!.Contains(text, StringComparison.Ordinal);

    private static bool HasButtons(JsonElement message) => message.GetProperty("buttons").GetArrayLength() > 0;

    private static Task<TestHost> StartSandboxedAsync(string dataDirectory) =>
        TestHost.StartAsync(
            settings:
            [
                "ApprovalBot:Sandbox:Url=http://127.0.0.1:0",
                "ApprovalBot:Sandbox:RateLimits=false",
                "ApprovalBot:Telegram:CardRetryBaseDelaySeconds=1",
                "ApprovalBot:Telegram:RateLimits:PerChatPerSecond=1000",
                "ApprovalBot:Telegram:RateLimits:PerChatBurst=1000",
                "ApprovalBot:Telegram:RateLimits:GlobalPerSecond=1000",
                "ApprovalBot:Kinds:reply:Executor:Type=pull",
            ],
            dataDirectory: dataDirectory,
            compose: b =>
            {
                b.AddTelegram();
                b.AddApprovalJobs();
            });

    private static SandboxServer SandboxOf(TestHost host) => host.Services.GetRequiredService<BuiltInSandbox>().Server!;

    private static async Task SubmitAsync(TestHost host, string id, string text)
    {
        await using var client = await host.ConnectAsync();
        var response = await client.SubmitAsync(new Client.DraftSubmission { Id = id, Kind = "reply", Agent = "a", Text = text });
        Assert.True(response.Ok, response.Error?.Message);
    }

    private static Task<SentMessage> WaitForCardAsync(SandboxServer sandbox, string text) =>
        sandbox.Control.WaitForMessageAsync(m => m.Text?.Contains(text, StringComparison.Ordinal) == true && m.Versions[0].Buttons.Count > 0, TelegramHarness.Wait);

    /// <summary>
    /// No message of the sandbox ever showed, in any of its versions, more than one draft, nor a draft whose card on
    /// record it is not.
    /// </summary>
    private static void AssertEachDraftShownOnItsOwnCardOnly(SandboxServer sandbox, DraftStore store, IReadOnlyDictionary<string, string> texts)
    {
        foreach (var message in sandbox.Control.GetAllMessages())
        {
            var versions = string.Join(" | ", message.Versions.Select(v => v.Text));
            var shown = texts.Where(t => message.Versions.Any(v => v.Text?.Contains(t.Value, StringComparison.Ordinal) == true)).Select(t => t.Key).ToList();
            Assert.True(shown.Count <= 1, $"message {message.MessageId} showed {string.Join(" and ", shown)}: {versions}");
            foreach (var id in shown)
            {
                var draft = store.Get(id)!;
                Assert.True((draft.CardChatId, draft.CardMessageId) == (message.ChatId, message.MessageId),
                    $"message {message.MessageId} showed {id}, whose card is message {draft.CardMessageId}: {versions}");
            }
        }
    }

    /// <summary>The start's look at Sandbox:Url before anything is created (see ProgramTests for the whole start).</summary>
    [Theory]
    [InlineData("http://127.0.0.1:{0}")]
    [InlineData("http://localhost:{0}")]
    public void ThrowIfUrlInUse_AnotherProcessListensThere_RefusedNamingTheSetting(string url)
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var held = string.Format(CultureInfo.InvariantCulture, url, ((System.Net.IPEndPoint)taken.LocalEndpoint).Port);

        var refused = Assert.Throws<StartupRefusedException>(() => BuiltInSandbox.ThrowIfUrlInUse(held));

        Assert.StartsWith($"The built-in Telegram sandbox cannot listen on {held} (ApprovalBot:Sandbox:Url): 127.0.0.1:", refused.Message, StringComparison.Ordinal);
        Assert.Contains(" is in use. Is another ApprovalBot or sandbox running?", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ThrowIfUrlInUse_FreeOrAnyPort_PassesAndLeavesThePortFree()
    {
        int port;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }

        BuiltInSandbox.ThrowIfUrlInUse($"http://127.0.0.1:{port}");
        BuiltInSandbox.ThrowIfUrlInUse("http://127.0.0.1:0");

        using var after = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
        after.Start();
    }
}
