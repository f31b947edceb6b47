using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Sandbox;
using ApprovalBot.Telegram;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ApprovalBot.Tests.Telegram;

/// <summary>
/// A test-owned sandbox on a free port and the real host (store, pipe, Telegram) configured against it as
/// a real bot would be: token, API base URL, chat, approvers. Rate limits are raised on both sides so tests
/// are fast, unless a test is about them; the data directory belongs to the harness, so the host can be restarted on it.
/// </summary>
internal sealed class TelegramHarness : IAsyncDisposable
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    private readonly TempDirectory _data = new();
    private readonly IReadOnlyList<string> _extraSettings;
    private readonly bool _defaultRateLimits;
    private readonly Action<IServiceCollection>? _services;
    private readonly Action<HostApplicationBuilder>? _compose;

    private TelegramHarness(
        SandboxServer sandbox, IReadOnlyList<string> extraSettings, bool defaultRateLimits, Action<IServiceCollection>? services, Action<HostApplicationBuilder>? compose)
    {
        Sandbox = sandbox;
        _extraSettings = extraSettings;
        _defaultRateLimits = defaultRateLimits;
        _services = services;
        _compose = compose;
    }

    public SandboxServer Sandbox { get; }

    public SandboxControl Control => Sandbox.Control;

    public TestHost Host { get; private set; } = null!;

    public string DataDirectory => _data.Path;

    public long ChatId => Sandbox.PrivateChatId;

    /// <param name="settings">Host settings, after the harness's own (so they win).</param>
    /// <param name="sandboxRateLimits">The sandbox answers 429 like Telegram (off: bursts of test traffic never flake).</param>
    /// <param name="defaultRateLimits">The bot keeps its real default outgoing limits instead of raised ones.</param>
    /// <param name="services">Replaces host services, e.g. the rate limiter's clock.</param>
    /// <param name="sandboxClock">The sandbox's clock (message dates, call log, rate limits); real time when null.</param>
    /// <param name="compose">Features composed after Telegram, at every start (e.g. the reconciler).</param>
    public static async Task<TelegramHarness> StartAsync(
        IEnumerable<string>? settings = null, bool sandboxRateLimits = false, bool defaultRateLimits = false,
        Action<IServiceCollection>? services = null, TimeProvider? sandboxClock = null, Action<HostApplicationBuilder>? compose = null)
    {
        var sandbox = await SandboxServer.StartAsync(
            new SandboxSettings { Url = "http://127.0.0.1:0", RateLimits = sandboxRateLimits }, loggerFactory: null, sandboxClock ?? TimeProvider.System);
        var harness = new TelegramHarness(sandbox, [.. settings ?? []], defaultRateLimits, services, compose);
        try
        {
            harness.Host = await harness.StartHostAsync();
        }
        catch
        {
            await harness.DisposeAsync();
            throw;
        }
        return harness;
    }

    public static IEnumerable<string> SettingsFor(SandboxServer sandbox, bool defaultRateLimits = false) =>
    [
        $"ApprovalBot:Telegram:Token={sandbox.Token}",
        $"ApprovalBot:Telegram:ApiBaseUrl={sandbox.BaseUrl}",
        $"ApprovalBot:Telegram:ChatId={sandbox.PrivateChatId.ToString(CultureInfo.InvariantCulture)}",
        $"ApprovalBot:Telegram:Approvers:0={sandbox.Settings.ApproverId.ToString(CultureInfo.InvariantCulture)}",
        "ApprovalBot:Telegram:PollTimeoutSeconds=10",
        "ApprovalBot:Telegram:RetryBaseDelayMs=20",
        "ApprovalBot:Telegram:CardRetryBaseDelaySeconds=1",
        .. defaultRateLimits ? (IEnumerable<string>)[] :
        [
            "ApprovalBot:Telegram:RateLimits:PerChatPerSecond=1000",
            "ApprovalBot:Telegram:RateLimits:PerChatBurst=1000",
            "ApprovalBot:Telegram:RateLimits:PerGroupPerMinute=10000",
            "ApprovalBot:Telegram:RateLimits:GlobalPerSecond=1000",
        ],
        "ApprovalBot:Kinds:reply:MaxLength=280",
        "ApprovalBot:Kinds:long:MaxLength=20000",
    ];

    /// <param name="settings">Settings for this start only, after the harness's (so they win), e.g. a changed ChatId.</param>
    public Task<TestHost> StartHostAsync(IEnumerable<string>? settings = null) =>
        TestHost.StartAsync(
            settings: [.. SettingsFor(Sandbox, _defaultRateLimits), .. _extraSettings, .. settings ?? []], services: _services, dataDirectory: _data.Path,
            compose: b =>
            {
                b.AddTelegram();
                _compose?.Invoke(b);
            });

    /// <summary>
    /// Stops the host and starts a new one on the same data directory, like a service restart; <paramref name="whileStopped"/>
    /// runs in between (e.g. a user writes to the bot while it is down); <paramref name="settings"/> apply to the new host
    /// only (e.g. the operator updated ChatId).
    /// </summary>
    public async Task RestartHostAsync(Action? whileStopped = null, IEnumerable<string>? settings = null)
    {
        await Host.DisposeAsync();
        whileStopped?.Invoke();
        Host = await StartHostAsync(settings);
    }

    public async Task<Receipt> SubmitAsync(string id, string text, string kind = "reply", object? context = null)
    {
        await using var client = await Host.ConnectAsync();
        var response = await client.SubmitAsync(new DraftSubmission
        {
            Id = id,
            Kind = kind,
            Agent = "test-agent",
            Text = text,
            Context = context is null ? null : JsonSerializer.SerializeToElement(context),
        });
        Assert.True(response.Ok, response.Error?.Message);
        return response.Receipt!;
    }

    /// <summary>The card of <paramref name="draftId"/> once it is in the chat with its buttons.</summary>
    public Task<SentMessage> WaitForCardAsync(string draftId) =>
        Control.WaitForMessageAsync(m => m.Document is null && m.Text is { } t && t.Contains(draftId, StringComparison.Ordinal) && m.Versions[0].Buttons.Count > 0, Wait);

    /// <summary>
    /// Submits a draft and returns its card once the card is in the chat and recorded in the store: a tap on a card the
    /// outbox has not recorded yet makes the outbox edit that card too.
    /// </summary>
    public async Task<SentMessage> SubmitCardedAsync(string id, string text)
    {
        await SubmitAsync(id, text);
        var card = await WaitForCardAsync(id);
        await WaitForStateAsync(id, DraftState.Carded);
        return card;
    }

    /// <summary>Runs <paramref name="sql"/> on the host's store file from outside it, e.g. a trigger that makes the store refuse a write.</summary>
    public void ExecuteOnDatabase(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(DataDirectory, "approvals.db")};Pooling=False");
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    /// <summary>Waits on the store's change signal until the draft is in <paramref name="state"/>.</summary>
    public Task<Draft> WaitForStateAsync(string draftId, DraftState state) => Host.WaitForStateAsync(draftId, state, Wait);

    /// <summary>
    /// The same callback query again under a new update id: what the bot sees when Telegram delivers an update again
    /// because its offset was not confirmed (same query id, same message, same data).
    /// </summary>
    public long RedeliverPress(PressedButton press, int messageId, string data, long fromUserId, long? chatId = null) =>
        Control.EnqueueRawUpdate(new JsonObject
        {
            ["update_id"] = 0,
            ["callback_query"] = new JsonObject
            {
                ["id"] = press.QueryId,
                ["from"] = new JsonObject { ["id"] = fromUserId, ["is_bot"] = false, ["first_name"] = "Again" },
                ["message"] = new JsonObject { ["message_id"] = messageId, ["date"] = 0, ["chat"] = ChatJson(chatId ?? ChatId) },
                ["chat_instance"] = "1",
                ["data"] = data,
            },
        }.ToJsonString());

    /// <summary>
    /// Taps at a card whose draft is closed (expired, withdrawn): ✅ Approve on the old copy, the same tap delivered again,
    /// then ❌ Reject; returns the answers to the two taps once every update is confirmed (the redelivery is answered with no
    /// new answer of its own).
    /// </summary>
    public async Task<(CallbackAnswer Approve, CallbackAnswer Reject)> TapClosedCardAsync(SentMessage card)
    {
        var approve = Control.PressButton(card.MessageId, ButtonData(card, "Approve"), requireButton: false);
        var approveAnswer = await Control.WaitForCallbackAnswerAsync(approve.QueryId, Wait);
        var again = RedeliverPress(approve, card.MessageId, ButtonData(card, "Approve"), Sandbox.Settings.ApproverId);
        await Control.WaitForUpdateConfirmedAsync(again, Wait);
        var reject = Control.PressButton(card.MessageId, ButtonData(card, "Reject"), requireButton: false);
        var rejectAnswer = await Control.WaitForCallbackAnswerAsync(reject.QueryId, Wait);
        await Control.WaitForUpdateConfirmedAsync(reject.UpdateId, Wait);
        return (approveAnswer, rejectAnswer);
    }

    /// <summary>The same user message (a command) again under a new update id, as a redelivery.</summary>
    public long RedeliverMessage(UserMessage sent, string text, long fromUserId) =>
        Control.EnqueueRawUpdate(new JsonObject
        {
            ["update_id"] = 0,
            ["message"] = new JsonObject
            {
                ["message_id"] = sent.MessageId,
                ["from"] = new JsonObject { ["id"] = fromUserId, ["is_bot"] = false, ["first_name"] = "Again" },
                ["chat"] = ChatJson(sent.ChatId),
                ["date"] = 0,
                ["text"] = text,
                ["entities"] = new JsonArray(new JsonObject { ["type"] = "bot_command", ["offset"] = 0, ["length"] = text.Split(' ')[0].Length }),
            },
        }.ToJsonString());

    private static JsonObject ChatJson(long chatId) => new() { ["id"] = chatId, ["type"] = chatId > 0 ? "private" : "group" };

    public static string ButtonData(SentMessage card, string label) =>
        card.AllButtons.Single(b => b.Text.Contains(label, StringComparison.Ordinal)).CallbackData!;

    public async ValueTask DisposeAsync()
    {
        if (Host is not null)
        {
            await Host.DisposeAsync();
        }
        await Sandbox.DisposeAsync();
        _data.Dispose();
    }
}
