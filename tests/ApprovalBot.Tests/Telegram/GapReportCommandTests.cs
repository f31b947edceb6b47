using ApprovalBot.Reconciliation;
using ApprovalBot.Telegram.Api;
using ApprovalBot.Telegram.Commands;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalBot.Tests.Telegram;

public sealed class GapReportCommandTests : IAsyncLifetime
{
    private TestHost _host = null!;

    public async Task InitializeAsync() => _host = await TestHost.StartAsync(compose: b => b.AddReconciliation());

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task ExecuteAsync_ClassPastTheReportLimit_CountsEveryGapAndSaysHowManyMoreFirst()
    {
        // More gaps than one message has room for, and more than the report lists.
        DraftFixtures.BulkDrafts(_host.DataDirectory, "reply:failed", "reply", "failed", 45, DateTimeOffset.UtcNow.AddHours(-1), "exec_error = 'exit 1'");
        var command = new StaleCommand(ActivatorUtilities.CreateInstance<GapFinder>(_host.Services, 40));

        var reply = await command.ExecuteAsync(new TelegramCommandContext("", new Message(), new User { Id = 1001 }, IsApprover: true, []), default);

        Assert.StartsWith("<b>45 stale</b>\n• <b>awaiting_human</b> since ", reply, StringComparison.Ordinal);
        Assert.Contains("5 more awaiting_human not listed", reply, StringComparison.Ordinal);
        Assert.EndsWith("more; approvalctl stale lists them.</i>", reply, StringComparison.Ordinal);
    }

    /// <summary>
    /// A long error keeps both ends in the chat's report: what happened (the exit code) and why (a program's last stderr
    /// line, which comes last). Cut at 160 characters from the start, /stale showed neither the why nor what to do.
    /// </summary>
    [Fact]
    public async Task ExecuteAsync_GapWithALongError_ShowsItsStartAndItsEnd()
    {
        var noise = string.Join(" | ", Enumerable.Repeat("noise noise noise noise", 20));
        DraftFixtures.BulkDrafts(_host.DataDirectory, "reply:failed", "reply", "failed", 1, DateTimeOffset.UtcNow.AddHours(-1),
            $"exec_error = 'exit code 2: … {noise} | fatal: the sink refused the token'");
        var command = new StaleCommand(ActivatorUtilities.CreateInstance<GapFinder>(_host.Services, 40));

        var reply = await command.ExecuteAsync(new TelegramCommandContext("", new Message(), new User { Id = 1001 }, IsApprover: true, []), default);

        Assert.Contains("exit code 2: ", reply, StringComparison.Ordinal);
        Assert.Contains("fatal: the sink refused the token", reply, StringComparison.Ordinal);
        Assert.DoesNotContain(noise, reply, StringComparison.Ordinal);
    }
}
