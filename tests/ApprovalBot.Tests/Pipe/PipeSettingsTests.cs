using ApprovalBot.Client;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Pipe;

/// <summary>The host as a child process, configured only through its environment, as systemd or Docker would.</summary>
public sealed class PipeSettingsTests
{
    [Fact]
    public async Task Start_SettingsFromEnvironmentVariables_ReachThePipeAndKindOptions()
    {
        using var dir = new TempDirectory();
        await using var host = await HostProcess.StartAsync(dir.Path, environment: new Dictionary<string, string>
        {
            ["ApprovalBot__Pipe__MaxLineBytes"] = "4096",
            ["ApprovalBot__Kinds__memo__MaxLength"] = "10",
        });
        await using var client = await host.ConnectAsync();

        var fits = await client.SubmitAsync(new DraftSubmission { Id = "memo:1", Kind = "memo", Agent = "a", Text = "0123456789" });
        var tooLong = await client.SubmitAsync(new DraftSubmission { Id = "memo:2", Kind = "memo", Agent = "a", Text = "0123456789A" });
        await using var other = await host.ConnectAsync();
        var overLine = PipeClient.ParseResponse((await other.SendRawAsync(System.Text.Encoding.UTF8.GetBytes("""{"op":"ping"}""" + new string(' ', 5000))))!);

        Assert.True(fits.Ok, fits.Error?.Message);
        Assert.Equal("is 11 characters; kind 'memo' allows at most 10", tooLong.Error!.Message);
        Assert.Equal(ErrorCodes.TooLarge, overLine.Error!.Code);
        Assert.Contains("4096 bytes", overLine.Error.Message, StringComparison.Ordinal);
    }
}
