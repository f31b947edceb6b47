namespace ApprovalBot.Tests.Sandbox;

public sealed class AnswerCallbackQueryMethodTests : SandboxTestBase
{
    [Fact]
    public async Task AnswerCallbackQuery_KnownQuery_ReturnsTrueAndRecordsTheAnswer()
    {
        var id = await SendCardAsync();
        var press = Control.PressButton(id, "a:1");

        var reply = await CallAsync("answerCallbackQuery", new { callback_query_id = press.QueryId, text = "Approved", show_alert = true });

        Assert.True(reply.Result.GetBoolean());
        var answer = Control.GetCallbackAnswer(press.QueryId)!;
        Assert.Equal("Approved", answer.Text);
        Assert.True(answer.ShowAlert);
    }

    [Fact]
    public async Task AnswerCallbackQuery_AnsweredTwice_AnswersQueryIsTooOld()
    {
        var id = await SendCardAsync();
        var press = Control.PressButton(id, "a:1");
        await CallAsync("answerCallbackQuery", new { callback_query_id = press.QueryId });

        var reply = await CallAsync("answerCallbackQuery", new { callback_query_id = press.QueryId, text = "again" });

        Assert.Equal(400, reply.ErrorCode);
        Assert.Equal("Bad Request: query is too old and response timeout expired or query ID is invalid", reply.Description);
        Assert.Null(Control.GetCallbackAnswer(press.QueryId)!.Text);
    }

    [Fact]
    public async Task AnswerCallbackQuery_UnknownQuery_AnswersQueryIsTooOld()
    {
        var reply = await CallAsync("answerCallbackQuery", new { callback_query_id = "12345" });

        Assert.Equal("Bad Request: query is too old and response timeout expired or query ID is invalid", reply.Description);
    }

    [Fact]
    public async Task AnswerCallbackQuery_Answer_WakesWaitForCallbackAnswer()
    {
        var id = await SendCardAsync();
        var press = Control.PressButton(id, "r:1");
        var answered = Control.WaitForCallbackAnswerAsync(press.QueryId, Wait);

        await CallFormAsync("answerCallbackQuery", ("callback_query_id", press.QueryId), ("text", "Rejected"));

        Assert.Equal("Rejected", (await answered).Text);
    }
}
