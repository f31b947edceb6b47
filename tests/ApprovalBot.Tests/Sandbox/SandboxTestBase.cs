using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalBot.Sandbox;

namespace ApprovalBot.Tests.Sandbox;

/// <summary>
/// Starts a fresh sandbox on a free port for every test and talks to it over real HTTP, never through
/// our Bot API client: the sandbox is the yardstick for that client, so it is checked on its own.
/// </summary>
public abstract class SandboxTestBase : IAsyncLifetime
{
    protected static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    protected SandboxServer Server { get; private set; } = null!;

    protected HttpClient Http { get; private set; } = null!;

    protected SandboxControl Control => Server.Control;

    protected long ChatId => Server.PrivateChatId;

    /// <summary>Rate limits are off unless a test is about them, so bursts of setup calls never flake.</summary>
    protected virtual SandboxSettings Settings => new() { Url = "http://127.0.0.1:0", RateLimits = false };

    public async Task InitializeAsync()
    {
        Server = await SandboxServer.StartAsync(Settings);
        Http = new HttpClient { BaseAddress = Server.BaseUrl, Timeout = TimeSpan.FromSeconds(30) };
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
    }

    // The leading slash matters: "bot123:abc/getMe" alone parses as a URI with scheme "bot123".
    protected string MethodPath(string method) => $"/bot{Server.Token}/{method}";

    protected Task<BotReply> CallAsync(string method, object? body = null) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Post, MethodPath(method))
        {
            Content = body is null ? null : JsonContent.Create(body),
        });

    /// <summary>A JSON body given as text, so tests can send exactly the shape they mean (nulls, wrong kinds).</summary>
    protected Task<BotReply> CallJsonAsync(string method, string json) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Post, MethodPath(method))
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        });

    protected Task<BotReply> CallFormAsync(string method, params (string Name, string Value)[] fields) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Post, MethodPath(method))
        {
            Content = new FormUrlEncodedContent(fields.Select(f => KeyValuePair.Create(f.Name, f.Value))),
        });

    protected async Task<BotReply> SendAsync(HttpRequestMessage request)
    {
        using (request)
        {
            using var response = await Http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            return new BotReply(response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
        }
    }

    protected static object Keyboard(params (string Text, string Data)[] buttons) =>
        new { inline_keyboard = new[] { buttons.Select(b => new { text = b.Text, callback_data = b.Data }).ToArray() } };

    /// <summary>Sends a card like ours (HTML, Approve/Reject) and returns its message id.</summary>
    protected async Task<int> SendCardAsync(string text = "<b>Draft</b> reply", long? chatId = null)
    {
        var reply = await CallAsync("sendMessage", new
        {
            chat_id = chatId ?? ChatId,
            text,
            parse_mode = "HTML",
            reply_markup = Keyboard(("Approve", "a:1"), ("Reject", "r:1")),
        });
        Assert.True(reply.Ok, reply.ToString());
        return reply.Result.GetProperty("message_id").GetInt32();
    }

    protected static JsonNode Json(string json) => JsonNode.Parse(json)!;
}
