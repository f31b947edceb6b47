using ApprovalBot.Client;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Pipe;

public sealed class ListOperationTests
{
    [Fact]
    public async Task List_FiltersByStateAndKind_NewestFirstWithinLimit()
    {
        await using var host = await TestHost.StartAsync();
        await using var client = await host.ConnectAsync();
        for (var i = 0; i < 5; i++)
        {
            await client.SubmitAsync(new DraftSubmission { Id = $"reply:{i}", Kind = "reply", Agent = "a", Text = $"r{i}" });
            await client.SubmitAsync(new DraftSubmission { Id = $"post:{i}", Kind = "post", Agent = "a", Text = $"p{i}" });
        }

        var replies = (await client.ListAsync(state: States.Pending, limit: 3, kind: "reply")).Drafts!;
        var carded = (await client.ListAsync(state: States.Carded)).Drafts!;

        Assert.Equal(["reply:4", "reply:3", "reply:2"], replies.Select(d => d.Id));
        Assert.Empty(carded);
    }
}
