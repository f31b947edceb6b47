using System.Text;
using ApprovalBot.Sandbox;
using ApprovalBot.Tests.Telegram;

namespace ApprovalBot.Tests.Security;

/// <summary>The bot token never reaches the database or the logs, even when calls fail on purpose.</summary>
public sealed class TokenSecrecyTests
{
    [Fact]
    public async Task Run_WithFailingBotApiCalls_TokenInNoFileOfTheDataDirectory()
    {
        await using var harness = await TelegramHarness.StartAsync();
        harness.Control.InjectFault("sendMessage", SandboxFault.Error(500, "Internal Server Error"), 2);
        harness.Control.InjectFault("sendMessage", SandboxFault.Error(400, "Bad Request: message is too long"), 1);

        await harness.SubmitAsync("reply:secret:1", "first");
        await harness.SubmitAsync("reply:secret:2", "second");
        await harness.WaitForCardAsync("reply:secret:2");
        await harness.Host.DisposeAsync();

        var token = harness.Sandbox.Token;
        var secretPart = token[(token.IndexOf(':', StringComparison.Ordinal) + 1)..];
        var files = Directory.GetFiles(harness.DataDirectory, "*", SearchOption.AllDirectories);
        Assert.Contains(files, f => f.EndsWith("approvals.db", StringComparison.Ordinal));
        Assert.Contains(files, f => f.Contains("logs", StringComparison.Ordinal));
        foreach (var file in files.Where(f => !f.EndsWith(".sock", StringComparison.Ordinal)))
        {
            var bytes = await File.ReadAllBytesAsync(file);
            Assert.False(Contains(bytes, Encoding.UTF8.GetBytes(secretPart)), $"the token's secret part is in {file}");
        }
    }

    private static bool Contains(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle) >= 0;
}
