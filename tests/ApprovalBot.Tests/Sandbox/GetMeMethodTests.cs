namespace ApprovalBot.Tests.Sandbox;

public sealed class GetMeMethodTests : SandboxTestBase
{
    [Fact]
    public async Task GetMe_Always_ReturnsTheBotUserWhoseIdPrefixesTheToken()
    {
        var reply = await CallAsync("getMe");

        Assert.True(reply.Ok, reply.ToString());
        Assert.Equal(123456, reply.Result.GetProperty("id").GetInt64());
        Assert.True(reply.Result.GetProperty("is_bot").GetBoolean());
        Assert.Equal(Control.BotUsername, reply.Result.GetProperty("username").GetString());
    }

    [Fact]
    public async Task GetMe_WithAParameter_AnswersUnknownParameter()
    {
        var reply = await CallAsync("getMe", new { verbose = true });

        Assert.Equal("Bad Request: unknown parameter verbose", reply.Description);
    }
}
