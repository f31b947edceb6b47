namespace ApprovalBot.Tests.Sandbox;

public sealed class EditMessageReplyMarkupMethodTests : SandboxTestBase
{
    [Fact]
    public async Task EditMessageReplyMarkup_NewKeyboard_ReplacesButtonsKeepsText()
    {
        var id = await SendCardAsync("<b>Draft</b>");

        var reply = await CallAsync("editMessageReplyMarkup", new { chat_id = ChatId, message_id = id, reply_markup = Keyboard(("Undo", "u:1")) });

        Assert.True(reply.Ok, reply.ToString());
        var message = Control.GetMessage(ChatId, id)!;
        Assert.Equal("Draft", message.Text);
        Assert.Equal("u:1", Assert.Single(message.AllButtons).CallbackData);
        Assert.Equal(2, message.Versions.Count);
    }

    [Fact]
    public async Task EditMessageReplyMarkup_WithoutMarkup_RemovesKeyboard()
    {
        var id = await SendCardAsync();

        var reply = await CallAsync("editMessageReplyMarkup", new { chat_id = ChatId, message_id = id });

        Assert.True(reply.Ok, reply.ToString());
        Assert.False(reply.Result.TryGetProperty("reply_markup", out _));
        Assert.Empty(Control.GetMessage(ChatId, id)!.Buttons);
    }

    [Fact]
    public async Task EditMessageReplyMarkup_SameKeyboard_AnswersMessageIsNotModified()
    {
        var id = await SendCardAsync();

        var reply = await CallAsync("editMessageReplyMarkup", new { chat_id = ChatId, message_id = id, reply_markup = Keyboard(("Approve", "a:1"), ("Reject", "r:1")) });

        Assert.StartsWith("Bad Request: message is not modified", reply.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EditMessageReplyMarkup_RemovingTwice_SecondIsNotModified()
    {
        var id = await SendCardAsync();
        await CallAsync("editMessageReplyMarkup", new { chat_id = ChatId, message_id = id });

        var reply = await CallAsync("editMessageReplyMarkup", new { chat_id = ChatId, message_id = id });

        Assert.StartsWith("Bad Request: message is not modified", reply.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EditMessageReplyMarkup_UnknownMessage_AnswersMessageToEditNotFound()
    {
        var reply = await CallAsync("editMessageReplyMarkup", new { chat_id = ChatId, message_id = 5 });

        Assert.Equal("Bad Request: message to edit not found", reply.Description);
    }

    [Fact]
    public async Task EditMessageReplyMarkup_Edit_WakesWaitForEdit()
    {
        var id = await SendCardAsync();
        var edited = Control.WaitForEditAsync(ChatId, id, Wait);

        await CallAsync("editMessageReplyMarkup", new { chat_id = ChatId, message_id = id });

        Assert.Empty((await edited).Buttons);
    }
}
