using ApprovalBot.Drafts;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalBot.Tests.Drafts;

public sealed class DraftWriterTests
{
    [Fact]
    public async Task WriteAsync_ManyConcurrentSubmits_AcknowledgedByFarFewerCommits()
    {
        await using var host = await TestHost.StartAsync();
        var writer = host.Services.GetRequiredService<DraftWriter>();
        var before = writer.Commits;

        await Task.WhenAll(Enumerable.Range(0, 400).Select(i =>
            host.Store.SubmitAsync(new NewDraft($"post:g{i}", "post", "a", $"text {i}", Sha.Hex($"text {i}"), null))));

        var commits = writer.Commits - before;
        Assert.InRange(commits, 1, 200);
        Assert.Equal(400, host.Store.List(DraftState.Pending, null, 1000).Count);
    }

    [Fact]
    public async Task WriteAsync_WorkThrows_OnlyThatWriteFails()
    {
        await using var host = await TestHost.StartAsync();

        var failing = host.Store.WriteAsync<int>(ctx =>
        {
            ctx.Execute("INSERT INTO settings(key, value) VALUES ('half', 'written')");
            throw new InvalidOperationException("refused");
        });
        var fine = host.Store.SetSettingAsync("whole", "written");

        await Assert.ThrowsAsync<InvalidOperationException>(() => failing);
        await fine;
        Assert.Null(host.Store.GetSetting("half"));
        Assert.Equal("written", host.Store.GetSetting("whole"));
    }
}
