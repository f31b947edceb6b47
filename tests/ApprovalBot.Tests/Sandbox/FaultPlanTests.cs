using System.Net;
using System.Net.Http.Json;
using ApprovalBot.Sandbox;

namespace ApprovalBot.Tests.Sandbox;

public sealed class FaultPlanTests : SandboxTestBase
{
    private object Message(string text) => new { chat_id = ChatId, text };

    [Fact]
    public async Task InjectFault_Error_AnswersItForTheNextNCallsOnly()
    {
        Control.InjectFault("sendMessage", SandboxFault.TooManyRequests(7), times: 2);

        var first = await CallAsync("sendMessage", Message("1"));
        var second = await CallAsync("sendMessage", Message("2"));
        var third = await CallAsync("sendMessage", Message("3"));

        Assert.Equal(HttpStatusCode.TooManyRequests, first.Status);
        Assert.Equal("Too Many Requests: retry after 7", first.Description);
        Assert.Equal(7, first.Parameters!.Value.GetProperty("retry_after").GetInt32());
        Assert.Equal(429, second.ErrorCode);
        Assert.True(third.Ok, third.ToString());
        Assert.Equal("3", Assert.Single(Control.GetMessages()).Text);
    }

    [Fact]
    public async Task InjectFault_ErrorWithMigration_CarriesMigrateToChatId()
    {
        Control.InjectFault("sendMessage", new SandboxFault { Kind = SandboxFaultKind.Error, ErrorCode = 400, Description = "Bad Request: group chat was upgraded to a supergroup chat", MigrateToChatId = -100123 });

        var reply = await CallAsync("sendMessage", Message("x"));

        Assert.Equal(-100123, reply.Parameters!.Value.GetProperty("migrate_to_chat_id").GetInt64());
    }

    [Fact]
    public async Task InjectFault_HangForADuration_AnswersLateButPerformsTheCall()
    {
        Control.InjectFault("sendMessage", SandboxFault.Hang(TimeSpan.FromMilliseconds(200)));
        var started = DateTimeOffset.UtcNow;

        var reply = await CallAsync("sendMessage", Message("late"));

        Assert.True(reply.Ok, reply.ToString());
        Assert.True(DateTimeOffset.UtcNow - started >= TimeSpan.FromMilliseconds(190));
        Assert.Single(Control.GetMessages());
    }

    [Fact]
    public async Task InjectFault_HangUntilClientGivesUp_CallIsPerformedAnyway()
    {
        // Real Telegram carries out a request it received whether or not the client still waits for the answer.
        Control.InjectFault("sendMessage", SandboxFault.Hang());
        using var giveUp = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            Http.PostAsJsonAsync(MethodPath("sendMessage"), Message("posted"), giveUp.Token));

        var call = await Control.WaitForCallAsync(c => c.Method == "sendMessage", Wait);
        Assert.Equal(0, call.StatusCode);
        Assert.Equal("posted", Assert.Single(Control.GetMessages()).Text);
    }

    [Fact]
    public async Task InjectFault_HoldAtGate_NotPerformedUntilReleasedThenAnsweredNormally()
    {
        var gate = new SandboxGate();
        Control.InjectFault("sendMessage", SandboxFault.Hold(gate));

        var reply = CallAsync("sendMessage", Message("held"));
        await gate.Reached.WaitAsync(Wait);
        Assert.Empty(Control.GetMessages());
        Assert.False(reply.IsCompleted);
        gate.Release();

        Assert.True((await reply).Ok);
        Assert.Equal("held", Assert.Single(Control.GetMessages()).Text);
    }

    [Fact]
    public async Task InjectFault_ResponseLostByAbort_ClientFailsButMessageIsSent()
    {
        Control.InjectFault("sendMessage", SandboxFault.ResponseLost());

        await Assert.ThrowsAsync<HttpRequestException>(() => Http.PostAsJsonAsync(MethodPath("sendMessage"), Message("applied")));

        Assert.Equal("applied", Assert.Single(Control.GetMessages()).Text);
        var call = Assert.Single(Control.GetCalls("sendMessage"));
        Assert.True(call.ResponseLost);
        Assert.False(call.Ok);
    }

    [Fact]
    public async Task InjectFault_ResponseLostAsBadGateway_Answers502ButMessageIsSent()
    {
        Control.InjectFault("editMessageText", SandboxFault.ResponseLost(ResponseLossMode.BadGateway));
        var id = await SendCardAsync();

        var reply = await CallAsync("editMessageText", new { chat_id = ChatId, message_id = id, text = "approved" });

        Assert.Equal(HttpStatusCode.BadGateway, reply.Status);
        Assert.Equal("approved", Control.GetMessage(ChatId, id)!.Text);
    }

    [Fact]
    public async Task InjectFault_ResponseLostThenRetry_RetrySeesTheEffect()
    {
        var id = await SendCardAsync();
        Control.InjectFault("editMessageReplyMarkup", SandboxFault.ResponseLost(ResponseLossMode.BadGateway));
        await CallAsync("editMessageReplyMarkup", new { chat_id = ChatId, message_id = id });

        var retry = await CallAsync("editMessageReplyMarkup", new { chat_id = ChatId, message_id = id });

        Assert.StartsWith("Bad Request: message is not modified", retry.Description, StringComparison.Ordinal);
    }

    [Fact]
    public void InjectFault_MethodNotInSpec_Throws()
    {
        Assert.Throws<ArgumentException>(() => Control.InjectFault("sendTelepathy", SandboxFault.Hang()));
    }

    [Fact]
    public async Task ClearFaults_QueuedFaults_AreDropped()
    {
        Control.InjectFault("getMe", SandboxFault.Error(500, "Internal Server Error"), times: 3);

        Control.ClearFaults();

        Assert.True((await CallAsync("getMe")).Ok);
    }
}
