namespace ApprovalBot.Tests.Sandbox;

public sealed class SetMyCommandsMethodTests : SandboxTestBase
{
    [Fact]
    public async Task SetMyCommands_ValidList_ReturnsTrueAndStoresCommands()
    {
        var reply = await CallAsync("setMyCommands", new { commands = new[] { new { command = "pending", description = "Drafts awaiting you" }, new { command = "help", description = "Help" } } });

        Assert.True(reply.Result.GetBoolean());
        Assert.Equal(["pending", "help"], Control.GetCommands().Select(c => c.Command));
    }

    [Fact]
    public async Task SetMyCommands_FormEncodedJsonList_IsAccepted()
    {
        var reply = await CallFormAsync("setMyCommands", ("commands", """[{"command":"stale","description":"Stale drafts"}]"""));

        Assert.True(reply.Ok, reply.ToString());
        Assert.Equal("stale", Control.GetCommands().Single().Command);
    }

    [Fact]
    public async Task SetMyCommands_CommandsNotAnArray_AnswersWrongType()
    {
        var reply = await CallJsonAsync("setMyCommands", """{"commands":{"command":"x","description":"y"}}""");

        Assert.Equal("Bad Request: wrong type of commands: expected Array of BotCommand", reply.Description);
    }

    [Fact]
    public async Task SetMyCommands_ForAScope_LeavesTheDefaultListAlone()
    {
        await CallAsync("setMyCommands", new { commands = new[] { new { command = "orphans", description = "d" } }, scope = new { type = "chat", chat_id = ChatId } });

        Assert.Empty(Control.GetCommands());
    }
}
