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
        Assert.True(result.GetProperty("message_id").GetInt32() > 0);
        Assert.Equal(ChatId, result.GetProperty("chat").GetProperty("id").GetInt64());
        Assert.Equal("private", result.GetProperty("chat").GetProperty("type").GetString());
        Assert.True(result.GetProperty("from").GetProperty("is_bot").GetBoolean());
        Assert.Equal("Draft <ok>", result.GetProperty("text").GetString());
        Assert.True(result.GetProperty("date").GetInt64() > 0);
        Assert.Equal("a:1", result.GetProperty("reply_markup").GetProperty("inline_keyboard")[0][0].GetProperty("callback_data").GetString());

        var sent = Assert.Single(Control.GetMessages());
        Assert.Equal(result.GetProperty("message_id").GetInt32(), sent.MessageId);
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
        Assert.Equal(first, inGroup);
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

    [Fact]
    public async Task SendMessage_BotRemovedFromTheGroup_Answers403LikeTelegramUntilAddedBack()
    {
        Control.RemoveBotFromChat(Control.GroupChatId);

        var refused = await CallAsync("sendMessage", new { chat_id = Control.GroupChatId, text = "x" });
        var elsewhere = await CallAsync("sendMessage", new { chat_id = Control.PrivateChatId, text = "x" });
        Assert.True(Control.AddBotToChat(Control.GroupChatId));
        var back = await CallAsync("sendMessage", new { chat_id = Control.GroupChatId, text = "x" });

        Assert.Equal(403, refused.ErrorCode);
        Assert.Equal("Forbidden: bot was kicked from the group chat", refused.Description);
        Assert.True(elsewhere.Ok, "other chats are not affected");
        Assert.True(back.Ok, back.ToString());
        Assert.Single(Control.GetMessages(Control.GroupChatId));
    }

    [Fact]
    public async Task SendMessage_BotBlockedByTheUser_Answers403BlockedAndEditsAreRefusedToo()
    {
        var id = await SendCardAsync();
        Control.RemoveBotFromChat(Control.PrivateChatId);

        var sent = await CallAsync("sendMessage", new { chat_id = Control.PrivateChatId, text = "x" });
        var edited = await CallAsync("editMessageText", new { chat_id = Control.PrivateChatId, message_id = id, text = "y" });

        Assert.Equal((403, "Forbidden: bot was blocked by the user"), (sent.ErrorCode, sent.Description));
        Assert.Equal((403, "Forbidden: bot was blocked by the user"), (edited.ErrorCode, edited.Description));
        Assert.False(Control.AddBotToChat(Control.GroupChatId), "the group never lost the bot");
    }
}
