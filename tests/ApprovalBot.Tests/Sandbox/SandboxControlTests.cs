using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalBot.Sandbox;
using ApprovalBot.Sandbox.Spec;
using ApprovalBot.Sandbox.Validation;

namespace ApprovalBot.Tests.Sandbox;

public sealed class SandboxControlTests : SandboxTestBase
{
    [Fact]
    public async Task PressButton_AsStrangerFromAnotherChat_UpdateCarriesThatUserAndChat()
    {
        var id = await SendCardAsync();

        var press = Control.PressButton(id, "a:1", fromUserId: Control.StrangerId, chatId: Control.GroupChatId);
        var reply = await CallAsync("getUpdates");

        var query = reply.Result[0].GetProperty("callback_query");
        Assert.Equal(press.QueryId, query.GetProperty("id").GetString());
        Assert.Equal(Control.StrangerId, query.GetProperty("from").GetProperty("id").GetInt64());
        Assert.Equal(Control.GroupChatId, query.GetProperty("message").GetProperty("chat").GetProperty("id").GetInt64());
    }

    [Fact]
    public async Task PressButton_DataNoButtonCarries_Throws()
    {
        var id = await SendCardAsync();

        Assert.Throws<InvalidOperationException>(() => Control.PressButton(id, "a:2"));
    }

    [Fact]
    public async Task PressButton_ForgedData_AllowedWhenButtonNotRequired()
    {
        var id = await SendCardAsync();

        var press = Control.PressButton(id, "forged", requireButton: false);

        Assert.False(string.IsNullOrEmpty(press.QueryId));
        Assert.Equal(1, Control.PendingUpdateCount);
    }

    [Fact]
    public async Task PressButton_MessageThatDoesNotExist_AttachesAnInaccessibleMessage()
    {
        Control.PressButton(99, "a:1", requireButton: false);

        var reply = await CallAsync("getUpdates");

        var message = reply.Result[0].GetProperty("callback_query").GetProperty("message");
        Assert.Equal(0, message.GetProperty("date").GetInt64());
        Assert.Equal(99, message.GetProperty("message_id").GetInt32());
    }

    /// <summary>As when an admin deletes the bot's message in Telegram: gone from the chat, no longer editable, nothing to press.</summary>
    [Fact]
    public async Task DeleteMessage_BotsCard_GoneEditAnsweredNotFoundAndItsButtonsCannotBePressed()
    {
        var id = await SendCardAsync();

        Control.DeleteMessage(ChatId, id);
        var edit = await CallAsync("editMessageText", new { chat_id = ChatId, message_id = id, text = "later" });

        Assert.Null(Control.GetMessage(ChatId, id));
        Assert.Empty(Control.GetMessages(ChatId));
        Assert.Equal((400, "Bad Request: message to edit not found"), (edit.ErrorCode, edit.Description));
        Assert.Throws<InvalidOperationException>(() => Control.PressButton(id, "a:1"));
        Assert.Equal(0, Control.PendingUpdateCount);
    }

    [Fact]
    public async Task DeleteMessage_NoSuchMessageOrChat_ThrowsAndChangesNothing()
    {
        var id = await SendCardAsync();

        Assert.Throws<ArgumentException>(() => Control.DeleteMessage(ChatId, id + 1));
        Assert.Throws<ArgumentException>(() => Control.DeleteMessage(-424242, id));
        Assert.NotNull(Control.GetMessage(ChatId, id));
    }

    [Fact]
    public async Task SendUserMessage_Command_GetsBotCommandEntityAtOffsetZero()
    {
        var sent = Control.SendUserMessage("/status reply:1");

        var reply = await CallAsync("getUpdates");

        var message = reply.Result[0].GetProperty("message");
        Assert.Equal(sent.MessageId, message.GetProperty("message_id").GetInt32());
        Assert.Equal("/status reply:1", message.GetProperty("text").GetString());
        var entity = message.GetProperty("entities")[0];
        Assert.Equal("bot_command", entity.GetProperty("type").GetString());
        Assert.Equal(0, entity.GetProperty("offset").GetInt32());
        Assert.Equal(7, entity.GetProperty("length").GetInt32());
        Assert.Equal(Control.ApproverId, message.GetProperty("from").GetProperty("id").GetInt64());
    }

    [Fact]
    public async Task SendUserMessage_PlainText_HasNoEntities()
    {
        Control.SendUserMessage("hello");

        var reply = await CallAsync("getUpdates");

        Assert.False(reply.Result[0].GetProperty("message").TryGetProperty("entities", out _));
    }

    /// <summary>
    /// Removing the bot and letting it back in queue the my_chat_member updates Telegram sends, each a valid Update of the
    /// spec (the ChatMember kinds told apart by their status): blocked in a private chat (by its user), removed from a basic
    /// group ("left", by the approver as a member). A removal or an add-back that changes nothing queues nothing.
    /// </summary>
    [Theory]
    [InlineData(false, "kicked")]
    [InlineData(true, "left")]
    public async Task RemoveAndAddBot_QueueTheMyChatMemberUpdatesTelegramSends_ShapedPerTheSpec(bool group, string removedStatus)
    {
        await CallAsync("getUpdates", new { allowed_updates = new[] { "message", "callback_query", "my_chat_member" } });
        var chatId = group ? Control.GroupChatId : ChatId;

        Control.RemoveBotFromChat(chatId);
        Control.RemoveBotFromChat(chatId);
        Assert.True(Control.AddBotToChat(chatId));
        Assert.False(Control.AddBotToChat(chatId));
        var reply = await CallAsync("getUpdates");

        var updates = reply.Result.EnumerateArray().ToArray();
        Assert.Equal(2, updates.Length);
        var checker = new JsonShapeChecker(BotApiSpec.Instance);
        Assert.All(updates, u => Assert.Null(checker.Check(JsonNode.Parse(u.GetRawText()), ["Update"], "update")));
        var (removed, back) = (updates[0].GetProperty("my_chat_member"), updates[1].GetProperty("my_chat_member"));
        Assert.Equal(("member", removedStatus), (Status(removed, "old_chat_member"), Status(removed, "new_chat_member")));
        Assert.Equal((removedStatus, "member"), (Status(back, "old_chat_member"), Status(back, "new_chat_member")));
        Assert.All([removed, back], change =>
        {
            Assert.Equal(chatId, change.GetProperty("chat").GetProperty("id").GetInt64());
            Assert.Equal(Control.ApproverId, change.GetProperty("from").GetProperty("id").GetInt64());
            Assert.Equal(Control.BotId, change.GetProperty("new_chat_member").GetProperty("user").GetProperty("id").GetInt64());
            Assert.True(change.GetProperty("new_chat_member").GetProperty("user").GetProperty("is_bot").GetBoolean());
        });
    }

    private static string? Status(JsonElement change, string member) => change.GetProperty(member).GetProperty("status").GetString();

    /// <summary>As on Telegram, a bot whose allowed_updates leave out my_chat_member is not told; one that never set them is.</summary>
    [Theory]
    [InlineData(new[] { "message", "callback_query" }, 0)]
    [InlineData(null, 1)]
    public async Task RemoveBotFromChat_MyChatMemberQueuedOnlyIfAllowedUpdatesTakeIt(string[]? allowed, int queued)
    {
        if (allowed is not null)
        {
            await CallAsync("getUpdates", new { allowed_updates = allowed });
        }

        Control.RemoveBotFromChat(ChatId);

        Assert.Equal(queued, Control.PendingUpdateCount);
    }

    [Fact]
    public async Task EnqueueRawUpdate_HostileJson_IsDeliveredVerbatimWithItsId()
    {
        var updateId = Control.EnqueueRawUpdate("""{"callback_query":{"id":"x","data":"a:1"},"surprise":[1,2]}""");

        var reply = await CallAsync("getUpdates");

        var update = Assert.Single(reply.Result.EnumerateArray());
        Assert.Equal(updateId, update.GetProperty("update_id").GetInt64());
        Assert.Equal(JsonValueKind.Array, update.GetProperty("surprise").ValueKind);
    }

    [Fact]
    public async Task DeliverLast_QueuedUpdate_HandedOverAfterTheLaterOnesAndConfirmedByAnOffsetPastThem()
    {
        var older = Control.SendUserMessage("/older");
        var later = Control.SendUserMessage("/later");

        Control.DeliverLast(older.UpdateId);
        var reply = await CallAsync("getUpdates");
        await CallAsync("getUpdates", new { offset = later.UpdateId + 1 });

        Assert.Equal([later.UpdateId, older.UpdateId], reply.Result.EnumerateArray().Select(u => u.GetProperty("update_id").GetInt64()));
        Assert.Equal(0, Control.PendingUpdateCount);
        Assert.Throws<ArgumentException>(() => Control.DeliverLast(older.UpdateId));
    }

    [Fact]
    public async Task EnqueueRawUpdate_KeepItsOwnId_StillConfirmedByTheAssignedId()
    {
        var updateId = Control.EnqueueRawUpdate("""{"update_id":"not-a-number"}""", assignUpdateId: false);

        var reply = await CallAsync("getUpdates");
        await CallAsync("getUpdates", new { offset = updateId + 1 });

        Assert.Equal("not-a-number", reply.Result[0].GetProperty("update_id").GetString());
        Assert.Equal(0, Control.PendingUpdateCount);
    }

    [Fact]
    public void EnqueueRawUpdate_InvalidJson_Throws()
    {
        Assert.Throws<ArgumentException>(() => Control.EnqueueRawUpdate("{nope"));
    }

    [Fact]
    public async Task WaitForMessageAsync_MessageSentLater_CompletesWhenItArrives()
    {
        var waiting = Control.WaitForMessageAsync(m => m.Text == "later", Wait);
        Assert.False(waiting.IsCompleted);

        await CallAsync("sendMessage", new { chat_id = ChatId, text = "later" });

        Assert.Equal("later", (await waiting).Text);
    }

    [Fact]
    public async Task WaitForMessageAsync_Nothing_ThrowsTimeoutWithWhatTheBotDid()
    {
        await CallAsync("sendMessage", new { chat_id = ChatId, text = "something else" });

        var error = await Assert.ThrowsAsync<TimeoutException>(() => Control.WaitForMessageAsync(m => m.Text == "never", TimeSpan.FromMilliseconds(50)));

        Assert.Contains("something else", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WaitForEditAsync_AfterEditCount_IgnoresEarlierEdits()
    {
        var id = await SendCardAsync();
        await CallAsync("editMessageReplyMarkup", new { chat_id = ChatId, message_id = id });
        var next = Control.WaitForEditAsync(ChatId, id, Wait, afterEditCount: 1);
        Assert.False(next.IsCompleted);

        await CallAsync("editMessageText", new { chat_id = ChatId, message_id = id, text = "final" });

        Assert.Equal("final", (await next).Text);
    }

    [Fact]
    public async Task WaitForUpdateConfirmedAsync_BotConfirmsWithOffset_Completes()
    {
        var sent = Control.SendUserMessage("/pending");
        var confirmed = Control.WaitForUpdateConfirmedAsync(sent.UpdateId, Wait);

        await CallAsync("getUpdates");
        Assert.False(confirmed.IsCompleted);
        await CallAsync("getUpdates", new { offset = sent.UpdateId + 1 });

        await confirmed;
    }

    [Fact]
    public void MigrateChat_UnknownChat_Throws()
    {
        Assert.Throws<ArgumentException>(() => Control.MigrateChat(-5, -100555));
    }

    [Fact]
    public async Task MigrateChat_Group_QueuesBothServiceMessagesLikeTelegram()
    {
        var updateIds = Control.MigrateChat(Control.GroupChatId, -100555);
        var reply = await CallAsync("getUpdates");

        Assert.Equal(2, updateIds.Count);
        var inOld = reply.Result[0].GetProperty("message");
        var inNew = reply.Result[1].GetProperty("message");
        Assert.Equal(Control.GroupChatId, inOld.GetProperty("chat").GetProperty("id").GetInt64());
        Assert.Equal(-100555, inOld.GetProperty("migrate_to_chat_id").GetInt64());
        Assert.Equal(-100555, inNew.GetProperty("chat").GetProperty("id").GetInt64());
        Assert.Equal("supergroup", inNew.GetProperty("chat").GetProperty("type").GetString());
        Assert.Equal(Control.GroupChatId, inNew.GetProperty("migrate_from_chat_id").GetInt64());
        Assert.False(inOld.TryGetProperty("text", out _));
    }

    [Fact]
    public void MigrateChat_WithoutNotify_QueuesNothing()
    {
        Assert.Empty(Control.MigrateChat(Control.GroupChatId, -100555, notify: false));
        Assert.Equal(0, Control.PendingUpdateCount);
    }

    [Fact]
    public void MigrateChat_PrivateChatOrAlreadyUpgraded_Throws()
    {
        Assert.Throws<ArgumentException>(() => Control.MigrateChat(ChatId, -100555));
        Control.MigrateChat(Control.GroupChatId, -100555, notify: false);
        Assert.Throws<ArgumentException>(() => Control.MigrateChat(Control.GroupChatId, -100556));
    }
}
