namespace ApprovalBot.Tests.Sandbox;

public sealed class GetMyCommandsMethodTests : SandboxTestBase
{
    [Fact]
    public async Task GetMyCommands_NothingSet_ReturnsEmptyArray()
    {
        var reply = await CallAsync("getMyCommands");

        Assert.Equal(0, reply.Result.GetArrayLength());
    }

    [Fact]
    public async Task GetMyCommands_AfterSetForScope_ReturnsThatScopesList()
    {
        var scope = new { type = "all_private_chats" };
        await CallAsync("setMyCommands", new { commands = new[] { new { command = "pending", description = "d" } }, scope });

        var reply = await CallAsync("getMyCommands", new { scope });

        Assert.Equal("pending", reply.Result[0].GetProperty("command").GetString());
    }
}
