using System.Text;
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

    private const int Total = 2_500;

    /// <summary>Draft i (1…2,500, submitted in that order): a quarter carded, the rest pending; every third a post.</summary>
    private static (string Id, string State, string Kind) Nth(int i) =>
        ($"mix:{i}", i % 4 == 0 ? States.Carded : States.Pending, i % 3 == 0 ? "post" : "reply");

    /// <summary>2,500 drafts of two states and two kinds, interleaved, written into the store of a running host.</summary>
    private static async Task<TestHost> StartWithMixAsync()
    {
        var host = await TestHost.StartAsync();
        var rows = string.Join(",\n", Enumerable.Range(1, Total).Select(Nth).Select(d =>
            $"('{d.Id}', '{d.Kind}', 'agent', 't', '{Sha.Hex("t")}', '{d.State}', 1, 1, 1)"));
        DraftFixtures.Sql(host.DataDirectory,
            $"INSERT INTO drafts(id, kind, agent, text, sha256, state, created_at, updated_at, state_since) VALUES\n{rows};");
        return host;
    }

    [Theory]
    [InlineData(null, null, 1000)]
    [InlineData(null, null, 500)]
    [InlineData(States.Pending, null, 1000)]
    [InlineData(States.Carded, null, 7)]
    [InlineData(null, "post", 300)]
    [InlineData(States.Pending, "reply", 1000)]
    public async Task List_PagedWithNextBefore_ReturnsEveryMatchingDraftOnceNewestFirst(string? state, string? kind, int limit)
    {
        await using var host = await StartWithMixAsync();
        await using var client = await host.ConnectAsync();
        var expected = Enumerable.Range(1, Total).Reverse().Select(Nth)
            .Where(d => (state is null || d.State == state) && (kind is null || d.Kind == kind)).Select(d => d.Id).ToList();

        var listed = new List<string>();
        long? before = null;
        var pages = 0;
        do
        {
            var response = await client.ListPageAsync(new ListRequest { State = state, Kind = kind, Limit = limit, Before = before });
            Assert.True(response.Ok, response.Error?.Message);
            var page = response.Drafts!;
            listed.AddRange(page.Select(d => d.Id));
            Assert.All(page, d => Assert.True(before is null || d.Seq < before));
            // Every page but the last is full, and the next one starts below its last draft.
            Assert.Equal(listed.Count < expected.Count ? page[^1].Seq : (long?)null, response.NextBefore);
            Assert.Equal(Math.Min(limit, expected.Count - (listed.Count - page.Count)), page.Count);
            before = response.NextBefore;
            Assert.True(++pages <= expected.Count / limit + 1, "more pages than the drafts fill");
        }
        while (before is not null);

        Assert.Equal(expected, listed);
        Assert.Equal((expected.Count + limit - 1) / limit, pages);
    }

    [Fact]
    public async Task List_PageThatHoldsTheLastDrafts_HasNoNextBeforeOnTheWire()
    {
        await using var host = await StartWithMixAsync();
        await using var client = await host.ConnectAsync();
        var first = await client.ListPageAsync(new ListRequest { Limit = 1000 });

        var full = await client.SendRawAsync("""{"op":"list","limit":1000}"""u8.ToArray());
        // Exactly the last 500 drafts: a full page, and still nothing after it.
        var last = await client.SendRawAsync(Encoding.UTF8.GetBytes($$"""{"op":"list","limit":500,"before":501}"""));
        var none = await client.SendRawAsync("""{"op":"list","before":1}"""u8.ToArray());

        Assert.Equal(1501, first.NextBefore);
        Assert.Contains("\"next_before\":1501}", full, StringComparison.Ordinal);
        Assert.Equal(500, PipeClient.ParseResponse(last!).Drafts!.Count);
        Assert.DoesNotContain("next_before", last, StringComparison.Ordinal);
        Assert.Equal("""{"ok":true,"drafts":[]}""", none);
    }

    [Fact]
    public async Task List_BeforeBeyondTheNewest_ListsFromTheNewest()
    {
        await using var host = await StartWithMixAsync();
        await using var client = await host.ConnectAsync();

        var response = await client.ListPageAsync(new ListRequest { State = States.Carded, Limit = 2, Before = long.MaxValue });

        Assert.Equal(["mix:2500", "mix:2496"], response.Drafts!.Select(d => d.Id));
        Assert.Equal(2496, response.NextBefore);
    }
}
