namespace ApprovalBot.Tests.Sandbox;

public sealed class EditMessageTextMethodTests : SandboxTestBase
{
    [Fact]
    public async Task EditMessageText_NewText_UpdatesMessageAndKeepsHistory()
    {
        var id = await SendCardAsync("<b>Draft</b>");

        var reply = await CallAsync("editMessageText", new
        {
            chat_id = ChatId,
            message_id = id,
            text = "<b>Draft</b> — approved",
            parse_mode = "HTML",
        });

        Assert.True(reply.Ok, reply.ToString());
        Assert.Equal("Draft — approved", reply.Result.GetProperty("text").GetString());
        Assert.True(reply.Result.TryGetProperty("edit_date", out _));
        var message = Control.GetMessage(ChatId, id)!;
        Assert.Equal(1, message.EditCount);
        Assert.Equal(["Draft", "Draft — approved"], message.Versions.Select(v => v.Text));
        Assert.Equal("editMessageText", message.Current.Method);
    }

    [Fact]
    public async Task EditMessageText_WithoutReplyMarkup_RemovesTheKeyboardLikeTelegram()
    {
        var id = await SendCardAsync();

        await CallAsync("editMessageText", new { chat_id = ChatId, message_id = id, text = "decided" });

        Assert.Empty(Control.GetMessage(ChatId, id)!.Buttons);
    }

    [Fact]
    public async Task EditMessageText_IdenticalContent_AnswersMessageIsNotModified()
    {
        var id = await SendCardAsync("<b>Draft</b> reply");

        var reply = await CallAsync("editMessageText", new
        {
            chat_id = ChatId,
            message_id = id,
            text = "<b>Draft</b> reply",
            parse_mode = "HTML",
            reply_markup = Keyboard(("Approve", "a:1"), ("Reject", "r:1")),
        });

        Assert.Equal(400, reply.ErrorCode);
        Assert.Equal(
            "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
            reply.Description);
        Assert.Equal(0, Control.GetMessage(ChatId, id)!.EditCount);
    }

    [Fact]
    public async Task EditMessageText_SameTextDifferentFormatting_IsAModification()
    {
        var id = await SendCardAsync("<b>Draft</b>");

        var reply = await CallAsync("editMessageText", new
        {
            chat_id = ChatId,
            message_id = id,
            text = "<i>Draft</i>",
            parse_mode = "HTML",
            reply_markup = Keyboard(("Approve", "a:1"), ("Reject", "r:1")),
        });

        Assert.True(reply.Ok, reply.ToString());
    }

    [Fact]
    public async Task EditMessageText_UnknownMessage_AnswersMessageToEditNotFound()
    {
        var reply = await CallAsync("editMessageText", new { chat_id = ChatId, message_id = 77, text = "x" });

        Assert.Equal("Bad Request: message to edit not found", reply.Description);
    }

    [Fact]
    public async Task EditMessageText_UsersMessage_AnswersCantBeEdited()
    {
        var user = Control.SendUserMessage("hello");

        var reply = await CallAsync("editMessageText", new { chat_id = ChatId, message_id = user.MessageId, text = "x" });

        Assert.Equal("Bad Request: message can't be edited", reply.Description);
    }

    [Fact]
    public async Task EditMessageText_WithoutText_AnswersTextIsRequired()
    {
        var id = await SendCardAsync();

        var reply = await CallAsync("editMessageText", new { chat_id = ChatId, message_id = id });

        Assert.Equal("Bad Request: text is required", reply.Description);
    }

    [Fact]
    public async Task EditMessageText_TooLongAfterParsing_AnswersMessageIsTooLong()
    {
        var id = await SendCardAsync();

        var reply = await CallAsync("editMessageText", new { chat_id = ChatId, message_id = id, text = new string('x', 4097) });

        Assert.Equal("Bad Request: message is too long", reply.Description);
    }
}
