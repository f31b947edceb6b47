using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace ApprovalBot.Tests.Sandbox;

public sealed class ControlEndpointsTests : SandboxTestBase
{
    private async Task<JsonElement> ControlAsync(HttpMethod method, string path, object? body = null, HttpStatusCode expected = HttpStatusCode.OK)
    {
        // A POST with no body still says JSON: the sandbox refuses any other POST, as a web page could send it.
        using var request = new HttpRequestMessage(method, path)
        {
            Content = body is not null ? JsonContent.Create(body) : method == HttpMethod.Post ? new StringContent("", Encoding.UTF8, "application/json") : null,
        };
        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"{(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    [Fact]
    public async Task Press_OverHttp_QueuesCallbackAndReturnsQueryId()
    {
        var id = await SendCardAsync();

        var pressed = await ControlAsync(HttpMethod.Post, "sandbox/press", new { message_id = id, callback_data = "r:1" });

        var queryId = pressed.GetProperty("query_id").GetString()!;
        var updates = await CallAsync("getUpdates");
        Assert.Equal(queryId, updates.Result[0].GetProperty("callback_query").GetProperty("id").GetString());
        Assert.Equal(pressed.GetProperty("update_id").GetInt64(), updates.Result[0].GetProperty("update_id").GetInt64());
    }

    [Fact]
    public async Task Press_NoSuchButton_Answers400WithReason()
    {
        var id = await SendCardAsync();

        var error = await ControlAsync(HttpMethod.Post, "sandbox/press", new { message_id = id, callback_data = "zz" }, HttpStatusCode.BadRequest);

        Assert.Contains("zz", error.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_OverHttp_QueuesMessageUpdate()
    {
        var sent = await ControlAsync(HttpMethod.Post, "sandbox/send", new { text = "/orphans", from_user_id = Control.StrangerId, chat_id = Control.GroupChatId });

        var updates = await CallAsync("getUpdates");
        var message = updates.Result[0].GetProperty("message");
        Assert.Equal(sent.GetProperty("message_id").GetInt32(), message.GetProperty("message_id").GetInt32());
        Assert.Equal(Control.StrangerId, message.GetProperty("from").GetProperty("id").GetInt64());
    }

    [Fact]
    public async Task RemoveBotAndAddBot_OverHttp_RefuseAndAllowSendsIntoThatChat()
    {
        var removed = await ControlAsync(HttpMethod.Post, $"sandbox/chats/{Control.GroupChatId}/remove-bot");
        var chats = await ControlAsync(HttpMethod.Get, "sandbox/chats");
        var refused = await CallAsync("sendMessage", new { chat_id = Control.GroupChatId, text = "x" });
        var added = await ControlAsync(HttpMethod.Post, $"sandbox/chats/{Control.GroupChatId}/add-bot");

        Assert.Equal("Forbidden: bot was kicked from the group chat", removed.GetProperty("refused").GetString());
        Assert.Equal("Forbidden: bot was kicked from the group chat",
            chats.EnumerateArray().Single(c => c.GetProperty("id").GetInt64() == Control.GroupChatId).GetProperty("bot_refused").GetString());
        Assert.Equal(403, refused.ErrorCode);
        Assert.True(added.GetProperty("was_removed").GetBoolean());
        Assert.True((await CallAsync("sendMessage", new { chat_id = Control.GroupChatId, text = "x" })).Ok);
    }

    [Fact]
    public async Task DeleteMessage_OverHttp_RemovesItAndASecondDeleteIsRefused()
    {
        var id = await SendCardAsync();

        var deleted = await ControlAsync(HttpMethod.Delete, $"sandbox/chats/{ChatId}/messages/{id}");
        var again = await ControlAsync(HttpMethod.Delete, $"sandbox/chats/{ChatId}/messages/{id}", expected: HttpStatusCode.BadRequest);
        var tooBig = await ControlAsync(HttpMethod.Delete, $"sandbox/chats/{ChatId}/messages/99999999999", expected: HttpStatusCode.BadRequest);

        Assert.True(deleted.GetProperty("deleted").GetBoolean());
        Assert.Contains($"has no message {id}", again.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.NotNull(tooBig.GetProperty("error").GetString());
        Assert.Equal("Bad Request: message to edit not found", (await CallAsync("editMessageText", new { chat_id = ChatId, message_id = id, text = "x" })).Description);
    }

    [Fact]
    public async Task RemoveBot_UnknownChat_Answers400NamingIt()
    {
        var error = await ControlAsync(HttpMethod.Post, "sandbox/chats/-424242/remove-bot", expected: HttpStatusCode.BadRequest);

        Assert.Contains("no chat -424242", error.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Updates_PostRawJson_IsDelivered()
    {
        using var content = new StringContent("""{"message":{"text":42}}""", Encoding.UTF8, "application/json");
        using var response = await Http.PostAsync("sandbox/updates", content);
        response.EnsureSuccessStatusCode();

        var updates = await CallAsync("getUpdates");

        Assert.Equal(42, updates.Result[0].GetProperty("message").GetProperty("text").GetInt32());
        var state = await ControlAsync(HttpMethod.Get, "sandbox/updates");
        Assert.Equal(1, state.GetProperty("pending_count").GetInt32());
    }

    [Fact]
    public async Task Messages_OverHttp_ListsBotMessagesWithButtons()
    {
        await SendCardAsync("<b>Card</b>");

        var messages = await ControlAsync(HttpMethod.Get, $"sandbox/chats/{ChatId}/messages");

        var message = messages[0];
        Assert.Equal("Card", message.GetProperty("text").GetString());
        Assert.Equal("a:1", message.GetProperty("buttons")[0][0].GetProperty("callback_data").GetString());
    }

    [Fact]
    public async Task CallbackAnswers_WaitOverHttp_ReturnsTheAnswerOnceGiven()
    {
        var id = await SendCardAsync();
        var press = Control.PressButton(id, "a:1");
        var waiting = ControlAsync(HttpMethod.Get, $"sandbox/callback-answers/{press.QueryId}?wait_ms=10000");

        await CallAsync("answerCallbackQuery", new { callback_query_id = press.QueryId, text = "Approved" });

        Assert.Equal("Approved", (await waiting).GetProperty("text").GetString());
    }

    [Fact]
    public async Task Faults_PostOverHttp_AppliesToNextCall()
    {
        await ControlAsync(HttpMethod.Post, "sandbox/faults", new { method = "getMe", kind = "error", error_code = 429, retry_after = 3 });

        var reply = await CallAsync("getMe");

        Assert.Equal(429, reply.ErrorCode);
        Assert.Equal(3, reply.Parameters!.Value.GetProperty("retry_after").GetInt32());
    }

    [Fact]
    public async Task Faults_DeleteOverHttp_ClearsThem()
    {
        await ControlAsync(HttpMethod.Post, "sandbox/faults", new { method = "getMe", kind = "response_lost", loss_mode = "bad_gateway" });

        await ControlAsync(HttpMethod.Delete, "sandbox/faults");

        Assert.True((await CallAsync("getMe")).Ok);
    }

    [Fact]
    public async Task RateLimits_PutOverHttp_SwitchesThem()
    {
        await ControlAsync(HttpMethod.Put, "sandbox/rate-limits", new { enabled = true });

        Assert.True(Control.RateLimitsEnabled);
    }

    [Fact]
    public async Task Calls_OverHttp_FilterByMethod()
    {
        await CallAsync("getMe");
        await CallAsync("deleteWebhook");

        var calls = await ControlAsync(HttpMethod.Get, "sandbox/calls?method=getMe");

        Assert.Equal("getMe", Assert.Single(calls.EnumerateArray()).GetProperty("method").GetString());
    }

    [Fact]
    public async Task Transcript_AfterCurrentVersion_WaitsForTheNextChange()
    {
        var before = await ControlAsync(HttpMethod.Get, $"sandbox/chats/{ChatId}/transcript");
        var version = before.GetProperty("version").GetInt64();
        var waiting = ControlAsync(HttpMethod.Get, $"sandbox/chats/{ChatId}/transcript?after_version={version}&wait_ms=10000");

        Control.SendUserMessage("/help");

        var after = await waiting;
        Assert.True(after.GetProperty("version").GetInt64() > version);
        Assert.Equal("/help", after.GetProperty("messages")[0].GetProperty("text").GetString());
        Assert.False(after.GetProperty("messages")[0].GetProperty("from_bot").GetBoolean());
    }

    [Fact]
    public async Task WaitConfirmed_OverHttp_TimesOutWith408()
    {
        var sent = Control.SendUserMessage("/help");

        await ControlAsync(HttpMethod.Post, $"sandbox/updates/{sent.UpdateId}/wait-confirmed?wait_ms=50", expected: HttpStatusCode.RequestTimeout);
    }

    [Fact]
    public async Task Files_OverHttp_DownloadsDocumentBytes()
    {
        using var form = new MultipartFormDataContent
        {
            { new StringContent("1001"), "chat_id" },
            { new ByteArrayContent([4, 5, 6]), "document", "d.bin" },
        };
        var reply = await SendAsync(new HttpRequestMessage(HttpMethod.Post, MethodPath("sendDocument")) { Content = form });
        var fileId = reply.Result.GetProperty("document").GetProperty("file_id").GetString();

        var bytes = await Http.GetByteArrayAsync($"sandbox/files/{Uri.EscapeDataString(fileId!)}");

        Assert.Equal([4, 5, 6], bytes);
    }

    [Fact]
    public async Task Messages_UnknownChat_Answers400NamingIt()
    {
        var error = await ControlAsync(HttpMethod.Get, "sandbox/chats/424242/messages", expected: HttpStatusCode.BadRequest);

        // Said as a sentence, without .NET's " (Parameter 'chatId')" after it: the caller sent no such name.
        Assert.Equal("The sandbox has no chat 424242.", error.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Send_TextOfTelegramsMostCharacters_IsQueued()
    {
        await ControlAsync(HttpMethod.Post, "sandbox/send", new { text = new string('x', 4096) });

        Assert.Equal(1, Control.PendingUpdateCount);
    }

    [Fact]
    public async Task Send_TextLongerThanTelegramAllows_Answers400AndQueuesNothing()
    {
        var error = await ControlAsync(HttpMethod.Post, "sandbox/send", new { text = new string('x', 100_000) }, HttpStatusCode.BadRequest);

        Assert.StartsWith("text is 100000 characters; a Telegram message has at most 4096", error.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, Control.PendingUpdateCount);
    }

    [Fact]
    public async Task Send_UnknownField_Answers400NamingItAndQueuesNothing()
    {
        // "from" for from_user_id: ignored, the message went out as the approver.
        var error = await ControlAsync(HttpMethod.Post, "sandbox/send", new { text = "/pending", from = Control.StrangerId }, HttpStatusCode.BadRequest);

        Assert.Equal("The request body has a field this endpoint does not take: from.", error.GetProperty("error").GetString());
        Assert.Equal(0, Control.PendingUpdateCount);
    }

    [Fact]
    public async Task Press_UnknownField_Answers400NamingIt()
    {
        var id = await SendCardAsync();

        var error = await ControlAsync(HttpMethod.Post, "sandbox/press", new { message_id = id, callback_data = "a:1", from_user = Control.StrangerId }, HttpStatusCode.BadRequest);

        Assert.Equal("The request body has a field this endpoint does not take: from_user.", error.GetProperty("error").GetString());
        Assert.Equal(0, Control.PendingUpdateCount);
    }
}
