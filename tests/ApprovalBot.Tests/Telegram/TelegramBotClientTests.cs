using ApprovalBot.Drafts;
using ApprovalBot.Sandbox;

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
            h.Control.InjectFault("sendMessage", SandboxFault.Error(500, "Internal Server Error"));
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
}
