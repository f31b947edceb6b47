using ApprovalBot.Drafts;
using ApprovalBot.Sandbox;
using ApprovalBot.Telegram.Api;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalBot.Tests.Telegram;

public sealed class TelegramBotClientTests
{
    [Fact]
    public async Task Calls_FailuresAndRetriesLogged_TokenNeverInLogFiles()
    {
        var h = await TelegramHarness.StartAsync(["Serilog:MinimumLevel:Default=Debug"]);
        var secret = h.Sandbox.Token.Split(':')[1];
        try
        {
            await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
            h.Control.InjectFault("sendMessage", SandboxFault.ResponseLost(ResponseLossMode.AbortConnection));
            // A send is not resent after a lost answer (the outbox sends the card once more); a 429 is, and logged by the client.
            h.Control.InjectFault("sendMessage", SandboxFault.TooManyRequests(1));
            h.Control.InjectFault("answerCallbackQuery", SandboxFault.Error(400, "Bad Request: query is too old"));
            await h.SubmitAsync("reply:log", "text");
            var card = await h.Control.WaitForMessageAsync(m => m.Text?.Contains("reply:log", StringComparison.Ordinal) == true, TelegramHarness.Wait);
            await h.WaitForStateAsync("reply:log", DraftState.Carded);
            var press = h.Control.PressButton(card.MessageId, card.AllButtons.First().CallbackData!);
            await h.Control.WaitForUpdateConfirmedAsync(press.UpdateId, TelegramHarness.Wait);
        }
        finally
        {
            // Disposing the host flushes and closes the log files.
            await h.Host.DisposeAsync();
        }
        try
        {
            var logs = Directory.GetFiles(Path.Combine(h.DataDirectory, "logs"));
            Assert.NotEmpty(logs);
            var all = string.Concat(logs.Select(File.ReadAllText));
            Assert.Contains("sendMessage", all);
            Assert.DoesNotContain(secret, all);
        }
        finally
        {
            await h.Sandbox.DisposeAsync();
        }
    }

    /// <summary>
    /// A message already gone counts as deleted (by hand, or by the same call whose answer was lost before the client sent
    /// it again); any other refusal is the caller's to handle.
    /// </summary>
    [Fact]
    public async Task DeleteMessage_AlreadyGoneCountsAsDone_OtherRefusalsThrow()
    {
        await using var h = await TelegramHarness.StartAsync();
        var card = await h.SubmitCardedAsync("reply:deleted-twice", "text");
        var client = h.Host.Services.GetRequiredService<TelegramBotClient>();

        h.Control.InjectFault("deleteMessage", SandboxFault.ResponseLost(ResponseLossMode.BadGateway));
        await client.DeleteMessage(h.ChatId, card.MessageId);
        await client.DeleteMessage(h.ChatId, card.MessageId);
        var own = h.Control.SendUserMessage("/help");
        h.Control.RemoveBotFromChat(h.ChatId);
        var refused = await Assert.ThrowsAsync<ApiRequestException>(() => client.DeleteMessage(h.ChatId, own.MessageId));

        Assert.Null(h.Control.GetMessage(h.ChatId, card.MessageId));
        Assert.True(refused.IsChatRefused);
    }
    /// <summary>
    /// Telegram answers 200 but the answer cannot be read (not JSON, or ok without a result). The call went through, so an
    /// edit is resent (again it changes nothing) and succeeds; a message sent is not resent by the client, which would
    /// post it twice: it fails once, saying its outcome is unknown, and the chat holds the one message.
    /// </summary>
    [Theory]
    [InlineData(ResponseLossMode.Unreadable)]
    [InlineData(ResponseLossMode.NoResult)]
    public async Task AnswerUnreadable_EditResentAndDone_SendNotResentOutcomeUnknown(ResponseLossMode mode)
    {
        await using var h = await TelegramHarness.StartAsync();
        var card = await h.SubmitCardedAsync("reply:unreadable", "text");
        var client = h.Host.Services.GetRequiredService<TelegramBotClient>();
        var editsBefore = h.Control.GetCalls("editMessageText").Count;

        h.Control.InjectFault("editMessageText", SandboxFault.ResponseLost(mode));
        await client.EditMessageText(new EditMessageTextRequest { ChatId = h.ChatId, MessageId = card.MessageId, Text = "edited once" });

        Assert.Equal(2, h.Control.GetCalls("editMessageText").Count - editsBefore);
        Assert.Equal("edited once", h.Control.GetMessages(h.ChatId).Single(m => m.MessageId == card.MessageId).Text);

        var sendsBefore = h.Control.GetCalls("sendMessage").Count;
        h.Control.InjectFault("sendMessage", SandboxFault.ResponseLost(mode));
        var failed = await Assert.ThrowsAsync<ApiRequestException>(() => client.SendMessage(new SendMessageRequest { ChatId = h.ChatId, Text = "posted once" }));

        Assert.True(failed.OutcomeUnknown);
        Assert.True(failed.IsTransient);
        Assert.Equal(1, h.Control.GetCalls("sendMessage").Count - sendsBefore);
        Assert.Single(h.Control.GetMessages(h.ChatId), m => m.Text == "posted once");
    }

    /// <summary>
    /// A message sent whose request went out but whose answer never came readable (no answer within the timeout, the
    /// connection lost, a 502): on real Telegram it was most likely posted. The client does not send it again (each resend
    /// used to post one more copy the service never learned of); it fails once, saying its outcome is unknown. An edit is
    /// still resent, and a command's reply (where a second copy is harmless) too.
    /// </summary>
    [Theory]
    [InlineData("hang")]
    [InlineData("abort")]
    [InlineData("502")]
    public async Task SendMessage_RequestWentOutAnswerLost_NotResentOutcomeUnknownOneCopy(string loss)
    {
        await using var h = await TelegramHarness.StartAsync(["ApprovalBot:Telegram:HttpTimeoutSeconds=1", "ApprovalBot:Telegram:RetryBaseDelayMs=1"]);
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);
        var client = h.Host.Services.GetRequiredService<TelegramBotClient>();
        SandboxFault Fault() => loss switch
        {
            "hang" => SandboxFault.Hang(),
            "abort" => SandboxFault.ResponseLost(ResponseLossMode.AbortConnection),
            _ => SandboxFault.ResponseLost(ResponseLossMode.BadGateway),
        };

        h.Control.InjectFault("sendMessage", Fault());
        var failed = await Assert.ThrowsAsync<ApiRequestException>(() => client.SendMessage(new SendMessageRequest { ChatId = h.ChatId, Text = "posted once" }));
        await h.Control.WaitForMessageAsync(m => m.Text == "posted once", TelegramHarness.Wait);

        Assert.True(failed.OutcomeUnknown, failed.Message);
        Assert.Single(h.Control.GetCalls("sendMessage"));
        Assert.Single(h.Control.GetMessages(h.ChatId), m => m.Text == "posted once");

        h.Control.InjectFault("sendMessage", Fault());
        await client.SendReply(new SendMessageRequest { ChatId = h.ChatId, Text = "a reply" });

        Assert.Equal(3, h.Control.GetCalls("sendMessage").Count);
    }
}
