namespace ApprovalBot.Tests.Sandbox;

/// <summary>The refusal table: every call the spec does not allow is refused, one row per kind of mistake.</summary>
public sealed class CallValidatorTests : SandboxTestBase
{
    public static TheoryData<string, string, string> JsonRefusals => new()
    {
        { "sendMessage", """{"chat_id":1001,"text":"x","colour":"red"}""", "Bad Request: unknown parameter colour" },
        { "sendMessage", """{"chat_id":1001}""", "Bad Request: text is required" },
        { "sendMessage", """{"text":"x"}""", "Bad Request: chat_id is required" },
        { "answerCallbackQuery", """{}""", "Bad Request: callback_query_id is required" },
        { "sendMessage", """{"chat_id":true,"text":"x"}""", "Bad Request: wrong type of chat_id: expected Integer or String" },
        { "sendMessage", """{"chat_id":1001,"text":5}""", "Bad Request: wrong type of text: expected String" },
        { "sendMessage", """{"chat_id":1001,"text":"x","disable_notification":"yes"}""", "Bad Request: wrong type of disable_notification: expected Boolean" },
        { "getUpdates", """{"limit":1.5}""", "Bad Request: wrong type of limit: expected Integer" },
        { "sendMessage", """{"chat_id":1001,"text":"x","parse_mode":null}""", "Bad Request: parse_mode must not be null" },
        { "sendMessage", """{"chat_id":1001,"text":"x","reply_markup":"{\"inline_keyboard\":[]}"}""", "Bad Request: wrong type of reply_markup: expected InlineKeyboardMarkup or ReplyKeyboardMarkup or ReplyKeyboardRemove or ForceReply" },
        { "sendMessage", """{"chat_id":1001,"text":"x","reply_markup":{"inline_keyboard":"x"}}""", "Bad Request: wrong type of reply_markup.inline_keyboard: expected Array of Array of InlineKeyboardButton" },
        { "sendMessage", """{"chat_id":1001,"text":"x","reply_markup":{"inline_keyboard":[{"text":"a","callback_data":"b"}]}}""", "Bad Request: wrong type of reply_markup.inline_keyboard[0]: expected Array of InlineKeyboardButton" },
        { "sendMessage", """{"chat_id":1001,"text":"x","reply_markup":{"inline_keyboard":[[{"callback_data":"b"}]]}}""", "Bad Request: reply_markup.inline_keyboard[0][0].text is required in InlineKeyboardButton" },
        { "sendMessage", """{"chat_id":1001,"text":"x","reply_markup":{"inline_keyboard":[[{"text":"a","callback_data":"b","colour":"red"}]]}}""", "Bad Request: unknown field reply_markup.inline_keyboard[0][0].colour in InlineKeyboardButton" },
        { "sendMessage", """{"chat_id":1001,"text":"x","reply_markup":{"inline_keyboard":[[{"text":"a"}]]}}""", "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard" },
        { "sendMessage", """{"chat_id":1001,"text":"x","reply_markup":{"inline_keyboard":[[{"text":"a","callback_data":"b","url":"https://example.org"}]]}}""", "Bad Request: can't parse inline keyboard button: reply_markup.inline_keyboard[0][0] must use exactly one of its action fields, found callback_data, url" },
        { "sendMessage", """{"chat_id":1001,"text":"x","reply_markup":{"inline_keyboard":[[{"text":"a","callback_data":""}]]}}""", "Bad Request: BUTTON_DATA_INVALID" },
        { "setMyCommands", """{"commands":[{"command":"Pending","description":"d"}]}""", "Bad Request: BOT_COMMAND_INVALID" },
        { "setMyCommands", """{"commands":[{"command":"pending","description":"d"}],"scope":{"type":"chat"}}""", "Bad Request: scope.chat_id is required in BotCommandScopeChat" },
        { "setMyCommands", """{"commands":[{"command":"pending","description":"d"}],"scope":{"type":"everyone"}}""", "Bad Request: scope.type is not a valid BotCommandScope type" },
    };

    public static TheoryData<string, string, string, string> FormRefusals => new()
    {
        { "sendMessage", "reply_markup", "{not json", "Bad Request: can't parse reply_markup JSON object" },
        { "sendMessage", "disable_notification", "maybe", "Bad Request: wrong type of disable_notification: expected Boolean" },
        { "sendMessage", "message_thread_id", "12abc", "Bad Request: wrong type of message_thread_id: expected Integer" },
        { "sendMessage", "reply_markup", """{"inline_keyboard":[[{"text":"a","callback_data":"b"}]],"extra":1}""", "Bad Request: unknown field reply_markup.extra in InlineKeyboardMarkup" },
    };

    [Theory]
    [MemberData(nameof(JsonRefusals))]
    public async Task Validate_JsonBodyTheSpecDoesNotAllow_Answers400(string method, string body, string expected)
    {
        var reply = await CallJsonAsync(method, body);

        Assert.Equal(400, reply.ErrorCode);
        Assert.Equal(expected, reply.Description);
        Assert.Empty(Control.GetAllMessages());
    }

    [Theory]
    [MemberData(nameof(FormRefusals))]
    public async Task Validate_FormBodyTheSpecDoesNotAllow_Answers400(string method, string name, string value, string expected)
    {
        var reply = await CallFormAsync(method, ("chat_id", "1001"), ("text", "x"), (name, value));

        Assert.Equal(400, reply.ErrorCode);
        Assert.Equal(expected, reply.Description);
    }

    [Fact]
    public async Task Validate_CallbackDataOf65Bytes_AnswersButtonDataInvalid()
    {
        var reply = await CallAsync("sendMessage", new { chat_id = ChatId, text = "x", reply_markup = Keyboard(("a", new string('d', 65))) });

        Assert.Equal(400, reply.ErrorCode);
        Assert.Equal("Bad Request: BUTTON_DATA_INVALID", reply.Description);
    }

    [Fact]
    public async Task Validate_CallbackDataOf64Bytes_IsAccepted()
    {
        var reply = await CallAsync("sendMessage", new { chat_id = ChatId, text = "x", reply_markup = Keyboard(("a", new string('d', 64))) });

        Assert.True(reply.Ok, reply.ToString());
    }

    [Fact]
    public async Task Validate_CallbackDataCountedInUtf8Bytes_33TwoByteCharactersRefused()
    {
        var reply = await CallAsync("sendMessage", new { chat_id = ChatId, text = "x", reply_markup = Keyboard(("a", new string('é', 33))) });

        Assert.Equal("Bad Request: BUTTON_DATA_INVALID", reply.Description);
    }

    [Fact]
    public async Task Validate_ChatIdAsNumericString_IsTheSameChat()
    {
        var reply = await CallAsync("sendMessage", new { chat_id = "1001", text = "x" });

        Assert.True(reply.Ok, reply.ToString());
        Assert.Single(Control.GetMessages());
    }

    [Fact]
    public async Task Validate_AllowedUpdatesWithUnknownType_Answers400()
    {
        var reply = await CallAsync("getUpdates", new { allowed_updates = new[] { "callback_query", "telepathy" } });

        Assert.Equal("Bad Request: unknown update type \"telepathy\" in allowed_updates", reply.Description);
    }
}
