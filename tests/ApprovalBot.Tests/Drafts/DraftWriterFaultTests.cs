using ApprovalBot.Client;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Drafts;

/// <summary>The store on a real disk that fills up, then recovers when space returns.</summary>
public sealed class DraftWriterFaultTests
{
    private static DraftSubmission Draft(int i) =>
        new() { Id = $"post:disk:{i}", Kind = "post", Agent = "a", Text = $"{i} " + new string('x', 2500) };

    [Fact]
    public async Task Submit_DiskFull_UnavailableAtOnceNothingHalfWrittenThenRecoversWhenSpaceReturns()
    {
        Assert.True(SmallDisk.CanMount, "this test needs root to mount a small tmpfs (CI runs as root)");
        using var disk = SmallDisk.Mount(megabytes: 8);
        await using var host = await TestHost.StartAsync(dataDirectory: disk.Path);
        await using var client = await host.ConnectAsync();
        disk.Fill(leaveKilobytes: 256);

        var receipts = new List<Receipt>();
        Response? refused = null;
        for (var i = 0; i < 2000 && refused is null; i++)
        {
            var response = await client.SubmitAsync(Draft(i));
            if (response.Ok) receipts.Add(response.Receipt!);
            else refused = response;
        }

        Assert.NotNull(refused);
        Assert.Equal(ErrorCodes.Unavailable, refused.Error!.Code);
        Assert.Null(host.Store.Get($"post:disk:{receipts.Count}"));
        foreach (var receipt in receipts)
        {
            Assert.Equal(receipt.Sha256, (await client.GetAsync(receipt.Id)).Draft!.Sha256);
        }

        disk.FreeBallast();
        var afterwards = await client.SubmitAsync(Draft(receipts.Count));

        Assert.True(afterwards.Ok, afterwards.Error?.Message);
        Assert.Equal(Sha.Hex(Draft(receipts.Count).Text), afterwards.Receipt!.Sha256);
    }
}
