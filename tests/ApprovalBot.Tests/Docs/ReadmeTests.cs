using System.Text.RegularExpressions;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Docs;

/// <summary>The README's examples, run as written, so the documentation cannot drift from the service.</summary>
public sealed partial class ReadmeTests
{
    internal static string RepositoryFile(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, name);
            if (File.Exists(candidate) && File.Exists(Path.Combine(dir.FullName, "ApprovalBot.sln")))
            {
                return candidate;
            }
        }
        throw new FileNotFoundException($"{name} not found above {AppContext.BaseDirectory}");
    }

    [Fact]
    public async Task PythonClient_AsWrittenInReadme_SubmitsAndReadsBack()
    {
        var readme = await File.ReadAllTextAsync(RepositoryFile("README.md"));
        var script = PythonBlock().Match(readme).Groups[1].Value;
        Assert.False(string.IsNullOrWhiteSpace(script));
        Assert.True(script.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length <= 10);
        await using var host = await TestHost.StartAsync();

        var (stdout, _) = await ChildProcess.RunToEndAsync("python3", ["-c", script], environment: new Dictionary<string, string> { ["APPROVALBOT_PIPE"] = host.PipeName });

        Assert.Contains(Sha.Hex("Hello from Python ✓"), stdout, StringComparison.Ordinal);
        Assert.EndsWith("pending", stdout.TrimEnd(), StringComparison.Ordinal);
        Assert.Equal("Hello from Python ✓", host.Store.Get("reply:demo:py")!.Text);
    }

    [GeneratedRegex(@"<!-- python-client[^>]*-->\s*```python\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex PythonBlock();
}
