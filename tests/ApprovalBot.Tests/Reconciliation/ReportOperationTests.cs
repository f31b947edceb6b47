using System.Text;
using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Reconciliation;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Reconciliation;

public sealed class ReportOperationTests : IAsyncLifetime
{
    private TestHost _host = null!;

    public async Task InitializeAsync() => _host = await TestHost.StartAsync(compose: b => b.AddReconciliation());

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Report_Orphans_ListsApprovalWithMissingText()
    {
        await DraftFixtures.ApproveAsync(_host.Store, "reply:r1", "hello");
        DraftFixtures.Sql(_host.DataDirectory, "UPDATE drafts SET text = NULL WHERE id = 'reply:r1'");
        await using var client = await _host.ConnectAsync();

        var report = (await client.ReportAsync("orphans")).Report!;

        Assert.Equal("orphans", report.Name);
        var item = Assert.Single(report.Items);
        Assert.Equal(("reply:r1", Gaps.TextMissing, States.Approved), (item.DraftId, item.Gap, item.State));
    }

    [Fact]
    public async Task Report_Stale_EmptyStoreGivesEmptyItems()
    {
        await using var client = await _host.ConnectAsync();

        var response = await client.ReportAsync("stale");

        Assert.True(response.Ok);
        Assert.Empty(response.Report!.Items);
    }

    [Theory]
    [InlineData("""{"op":"report"}""", ErrorCodes.Invalid, "name")]
    [InlineData("""{"op":"report","name":"everything"}""", ErrorCodes.Invalid, "name")]
    [InlineData("""{"op":"report","name":5}""", ErrorCodes.Invalid, "name")]
    [InlineData("""{"op":"report","name":"orphans","since":"yesterday"}""", ErrorCodes.Invalid, "since")]
    public async Task Report_BadRequest_Refused(string line, string code, string field)
    {
        await using var client = await _host.ConnectAsync();

        var response = PipeClient.ParseResponse((await client.SendRawAsync(Encoding.UTF8.GetBytes(line)))!);

        Assert.Equal((code, field), (response.Error!.Code, response.Error.Field));
        Assert.Empty(_host.Store.List(DraftState.Approved, null, 10));
    }
}
