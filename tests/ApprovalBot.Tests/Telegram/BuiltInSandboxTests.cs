using ApprovalBot.Drafts;
using ApprovalBot.Telegram;
using ApprovalBot.Telegram.Sandbox;
using ApprovalBot.Tests.Execution;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Tests.Telegram;

public sealed class BuiltInSandboxTests
{
    [Fact]
    public async Task NoToken_HostRunsAgainstBuiltInSandbox_WholeFlowWorks()
    {
        await using var host = await TestHost.StartAsync(
            settings: ["ApprovalBot:Sandbox:Url=http://127.0.0.1:0", "ApprovalBot:Sandbox:RateLimits=false"],
            compose: b => b.AddTelegram());
        var sandbox = host.Services.GetRequiredService<BuiltInSandbox>().Server!;
        await using (var client = await host.ConnectAsync())
        {
            Assert.True((await client.SubmitAsync(new Client.DraftSubmission { Id = "reply:builtin", Kind = "reply", Agent = "a", Text = "hello" })).Ok);
        }

        var card = await sandbox.Control.WaitForMessageAsync(m => m.Text?.Contains("reply:builtin", StringComparison.Ordinal) == true, TelegramHarness.Wait);
        Assert.Equal(sandbox.PrivateChatId, card.ChatId);
        var press = sandbox.Control.PressButton(card.MessageId, card.AllButtons.First(b => b.Text.Contains("Approve", StringComparison.Ordinal)).CallbackData!);
        await sandbox.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);

        Assert.Equal(DraftState.Approved, host.Store.Get("reply:builtin")!.State);
    }

    [Fact]
    public async Task NoToken_StartUpLog_SaysTheSandboxUrlAndHowToSwitchToARealBot()
    {
        var logs = new CapturedLogs();
        await using var host = await TestHost.StartAsync(
            settings: ["ApprovalBot:Sandbox:Url=http://127.0.0.1:0", "ApprovalBot:Sandbox:RateLimits=false"],
            services: s => s.AddSingleton<ILoggerProvider>(logs),
            compose: b => b.AddTelegram());
        var sandbox = host.Services.GetRequiredService<BuiltInSandbox>().Server!;

        var line = Assert.Single(logs.Entries, e => e.Category == typeof(TelegramStartup).FullName);

        Assert.Equal(LogLevel.Warning, line.Level);
        Assert.Equal(sandbox.BaseUrl.ToString(), line.Properties["SandboxUrl"]);
        Assert.Contains(sandbox.BaseUrl.ToString(), line.Message, StringComparison.Ordinal);
        Assert.Contains("open it in a browser", line.Message, StringComparison.Ordinal);
        Assert.Contains("To use a real bot, set ApprovalBot:Telegram:Token", line.Message, StringComparison.Ordinal);
        Assert.Contains("ChatId and Approvers", line.Message, StringComparison.Ordinal);
        Assert.Contains("Connecting a real bot", line.Message, StringComparison.Ordinal);
    }
}
