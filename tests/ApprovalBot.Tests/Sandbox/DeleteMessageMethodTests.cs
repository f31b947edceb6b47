using System.Net.Http.Json;
using ApprovalBot.Sandbox;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Sandbox;

public sealed class DeleteMessageMethodTests : SandboxTestBase
{
    [Fact]
    public async Task DeleteMessage_OwnCard_GoneFromTheChatItsButtonsCannotBePressed()
    {
        var id = await SendCardAsync();

        var reply = await CallAsync("deleteMessage", new { chat_id = ChatId, message_id = id });

        Assert.True(reply.Ok, reply.ToString());
        Assert.True(reply.Result.GetBoolean());
        Assert.Null(Control.GetMessage(ChatId, id));
        Assert.Throws<InvalidOperationException>(() => Control.PressButton(id, "a:1"));
        Assert.Equal("Bad Request: message to delete not found", (await CallAsync("deleteMessage", new { chat_id = ChatId, message_id = id })).Description);
    }

    [Fact]
    public async Task DeleteMessage_UnknownMessage_AnswersMessageToDeleteNotFound()
    {
        var reply = await CallAsync("deleteMessage", new { chat_id = ChatId, message_id = 5 });

        Assert.Equal((400, "Bad Request: message to delete not found"), (reply.ErrorCode, reply.Description));
    }

    /// <summary>A bot that is a plain member may delete a user's message in its private chat, not in a group.</summary>
    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public async Task DeleteMessage_AUsersMessage_OnlyInAPrivateChat(bool group, bool deleted)
    {
        var chatId = group ? Control.GroupChatId : ChatId;
        var sent = Control.SendUserMessage("hello", Control.ApproverId, chatId);

        var reply = await CallAsync("deleteMessage", new { chat_id = chatId, message_id = sent.MessageId });

        Assert.Equal(deleted, reply.Ok);
        Assert.Equal(deleted ? null : "Bad Request: message can't be deleted", reply.Description);
    }

    [Fact]
    public async Task DeleteMessage_BotRemovedFromTheChat_Answers403()
    {
        var id = await SendCardAsync();
        Control.RemoveBotFromChat(ChatId);

        var reply = await CallAsync("deleteMessage", new { chat_id = ChatId, message_id = id });

        Assert.Equal((403, "Forbidden: bot was blocked by the user"), (reply.ErrorCode, reply.Description));
        Assert.NotNull(Control.GetMessage(ChatId, id));
    }

    [Fact]
    public async Task DeleteMessage_48HoursOld_AnswersMessageCantBeDeleted()
    {
        var clock = new ManualTimeProvider();
        await using var server = await SandboxServer.StartAsync(Settings, loggerFactory: null, clock);
        using var http = new HttpClient { BaseAddress = server.BaseUrl };
        var path = $"/bot{server.Token}/deleteMessage";
        var young = server.Control.SendUserMessage("young", server.Control.ApproverId);
        clock.Advance(TimeSpan.FromHours(47));
        Assert.True((await http.PostAsJsonAsync(path, new { chat_id = server.PrivateChatId, message_id = young.MessageId })).IsSuccessStatusCode);
        var old = server.Control.SendUserMessage("old", server.Control.ApproverId);
        clock.Advance(TimeSpan.FromHours(48));

        var reply = await http.PostAsJsonAsync(path, new { chat_id = server.PrivateChatId, message_id = old.MessageId });

        Assert.Equal(System.Net.HttpStatusCode.BadRequest, reply.StatusCode);
        Assert.Contains("message can't be deleted", await reply.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
