using System.Text;
using ApprovalBot.Client;
using ApprovalBot.Pipe;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Pipe;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class LineBudgetTests
{
    [Fact]
    public async Task LongestSubmit_EverythingAtItsLimitAndEscaped_FitsTheLineAndIsStored()
    {
        const int maxLength = 50, maxContextBytes = 200;
        var lineLimit = (int)LineBudget.LongestSubmit(maxLength, maxContextBytes);
        await using var host = await TestHost.StartAsync([
            "ApprovalBot:Kinds:memo:MaxLength=" + maxLength, "ApprovalBot:Pipe:MaxContextBytes=" + maxContextBytes,
            "ApprovalBot:Pipe:MaxLineBytes=" + lineLimit]);
        await using var client = await host.ConnectAsync();
        // As an encoder that escapes everything would write it: every character of every key and value a \uXXXX escape,
        // the text and the agent emoji (a surrogate pair each, 12 bytes), the id its full 200 characters.
        var id = "memo:" + new string('x', 195);
        var context = "{\"k\":\"" + new string('v', maxContextBytes - 8) + "\"}";
        var line = "{" + Escaped("op") + ":" + Escaped("submit") + "," + Escaped("draft") + ":{"
            + Escaped("id") + ":" + Escaped(id) + "," + Escaped("kind") + ":" + Escaped("memo") + ","
            + Escaped("agent") + ":" + Escaped(string.Concat(Enumerable.Repeat("😀", 100))) + ","
            + Escaped("text") + ":" + Escaped(string.Concat(Enumerable.Repeat("😀", maxLength))) + ","
            + Escaped("context") + ":" + context + "}}";

        var response = PipeClient.ParseResponse((await client.SendRawAsync(Encoding.UTF8.GetBytes(line)))!);

        Assert.Equal(maxContextBytes, Encoding.UTF8.GetByteCount(context));
        Assert.InRange(Encoding.UTF8.GetByteCount(line), lineLimit - LineBudget.Envelope, lineLimit);
        Assert.True(response.Ok, response.Error?.Code + " " + response.Error?.Message);
        Assert.Equal(maxLength * 2, host.Store.Get(id)?.Text?.Length);
    }

    private static string Escaped(string value) => "\"" + string.Concat(value.Select(c => $"\\u{(int)c:x4}")) + "\"";
}
