using ApprovalBot.Cli;
using ApprovalBot.Client;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Cli;

public sealed class ServiceCallerTests
{
    [Fact]
    public async Task ExchangeAsync_ServiceNeverAnswers_UnavailableAfterTheResponseTimeout()
    {
        await using var peer = SilentPipePeer.Start();
        var caller = new ServiceCaller(peer.Path, json: false, TextWriter.Null, responseTimeout: TimeSpan.FromMilliseconds(200));

        var error = await Assert.ThrowsAsync<CliException>(() => caller.ExchangeAsync("""{"op":"ping"}"""u8.ToArray(), CancellationToken.None));

        Assert.Equal(ExitCodes.Unavailable, error.ExitCode);
        Assert.Contains("no answer from the service", error.Message);
        Assert.Contains("run the same command again", error.Message);
    }

    [Fact]
    public async Task SendAsync_WaitLongerThanTheResponseTimeout_TheServiceWaitIsAllowedFor()
    {
        await using var host = await TestHost.StartAsync();
        await new ServiceCaller(host.PipeName, json: false, TextWriter.Null)
            .SendAsync(new SubmitRequest { Draft = new DraftSubmission { Id = "reply:cli-wait", Kind = "reply", Agent = "a", Text = "t" } }, CancellationToken.None);
        var caller = new ServiceCaller(host.PipeName, json: false, TextWriter.Null, responseTimeout: TimeSpan.FromSeconds(1.5));

        // The service answers after 3 s, past the response timeout alone.
        var response = await caller.SendAsync(new WaitRequest { Id = "reply:cli-wait", TimeoutMs = 3000 }, CancellationToken.None);

        Assert.True(response.Ok);
        Assert.Contains(response.Draft!.State, new[] { States.Pending, States.Carded });
    }

    [Fact]
    public void Constructor_ResponseTimeoutNotPositive_Refused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new ServiceCaller("approvalbot", json: false, TextWriter.Null, responseTimeout: TimeSpan.Zero));
}
