namespace ApprovalBot.Tests.Sandbox;

public sealed class SendMessageMethodTests : SandboxTestBase
{
    [Fact]
    public async Task SendMessage_Card_ReturnsMessageAndStoresIt()
    {
        var reply = await CallAsync("sendMessage", new
        {
            chat_id = ChatId,
            text = "<b>Draft</b> &lt;ok&gt;",
            parse_mode = "HTML",
            reply_markup = Keyboard(("Approve", "a:1"), ("Reject", "r:1")),
        });

        Assert.True(reply.Ok, reply.ToString());
        var result = reply.Result;
        Assert.Equal(1, result.GetProperty("message_id").GetInt32());
        Assert.Equal(ChatId, result.GetProperty("chat").GetProperty("id").GetInt64());
        Assert.Equal("private", result.GetProperty("chat").GetProperty("type").GetString());
        Assert.True(result.GetProperty("from").GetProperty("is_bot").GetBoolean());
        Assert.Equal("Draft <ok>", result.GetProperty("text").GetString());
        Assert.True(result.GetProperty("date").GetInt64() > 0);
        Assert.Equal("a:1", result.GetProperty("reply_markup").GetProperty("inline_keyboard")[0][0].GetProperty("callback_data").GetString());

        var sent = Assert.Single(Control.GetMessages());
        Assert.Equal("Draft <ok>", sent.Text);
        Assert.Equal("HTML", sent.ParseMode);
        Assert.Equal(["a:1", "r:1"], sent.AllButtons.Select(b => b.CallbackData));
    }

    [Fact]
    public async Task SendMessage_Twice_MessageIdsIncreasePerChat()
    {
        var first = await SendCardAsync();
        var second = await SendCardAsync();
        var inGroup = await SendCardAsync(chatId: Control.GroupChatId);

        Assert.Equal(first + 1, second);
        Assert.Equal(1, inGroup);
    }

    [Fact]
    public async Task SendMessage_GroupChat_IsAccepted()
    {
        var reply = await CallAsync("sendMessage", new { chat_id = Control.GroupChatId, text = "hi group" });

        Assert.True(reply.Ok, reply.ToString());
        Assert.Equal("group", reply.Result.GetProperty("chat").GetProperty("type").GetString());
        Assert.Single(Control.GetMessages(Control.GroupChatId));
    }

    [Fact]
    public async Task SendMessage_UnknownChat_AnswersChatNotFound()
    {
        var reply = await CallAsync("sendMessage", new { chat_id = 424242, text = "x" });

        Assert.Equal(400, reply.ErrorCode);
        Assert.Equal("Bad Request: chat not found", reply.Description);
    }

    [Fact]
    public async Task SendMessage_MigratedGroup_AnswersWithMigrateToChatId()
    {
        Control.MigrateChat(Control.GroupChatId, -1009999);

        var reply = await CallAsync("sendMessage", new { chat_id = Control.GroupChatId, text = "x" });

        Assert.Equal(400, reply.ErrorCode);
        Assert.Equal(-1009999, reply.Parameters!.Value.GetProperty("migrate_to_chat_id").GetInt64());
        Assert.True((await CallAsync("sendMessage", new { chat_id = -1009999, text = "x" })).Ok);
    }
}
