using System.Diagnostics;
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

    [Fact]
    public async Task PythonClient_AsWrittenInReadme_ServedWhenAnotherAgentTookTheOnlyConnectionSlotBetweenItsCalls()
    {
        var readme = await File.ReadAllTextAsync(RepositoryFile("README.md"));
        // Once it has its first answer the script says so and waits for a line on stdin: meanwhile another agent connects.
        const string pause = """
            import json, sys
            _loads, _answers = json.loads, []
            def _paused(*args, **kwargs):
                _answers.append(_loads(*args, **kwargs))
                if len(_answers) == 1: print("between calls", flush=True); sys.stdin.readline()
                return _answers[-1]
            json.loads = _paused

            """;
        var script = pause + PythonBlock().Match(readme).Groups[1].Value;
        await using var host = await TestHost.StartAsync(["ApprovalBot:Pipe:MaxConnections=1"]);
        var info = new ProcessStartInfo("python3") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        info.Environment["APPROVALBOT_PIPE"] = host.PipeName;
        using var python = Process.Start(info)!;
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var stderr = python.StandardError.ReadToEndAsync(limit.Token);
        try
        {
            Assert.Equal("between calls", await python.StandardOutput.ReadLineAsync(limit.Token));

            // The only slot: the client's connection, idle since its answer, is closed for this one. Kept open for the next
            // call, that call's request was answered "closed" (or its write failed) unserved, and the script failed.
            await using var other = await host.ConnectAsync();
            Assert.True((await other.PingAsync(limit.Token)).Ok);
            await python.StandardInput.WriteLineAsync();
            await python.StandardInput.FlushAsync(limit.Token);
            var rest = (await python.StandardOutput.ReadToEndAsync(limit.Token)).TrimEnd().Split('\n');
            await python.WaitForExitAsync(limit.Token);

            Assert.True(python.ExitCode == 0, $"python exited {python.ExitCode}: {await stderr}");
            Assert.Equal(2, rest.Length);
            Assert.Contains(Sha.Hex("Hello from Python ✓"), rest[0], StringComparison.Ordinal);
            Assert.Equal("pending", rest[1]);
        }
        finally
        {
            if (!python.HasExited)
            {
                python.Kill();
            }
        }
    }

    [GeneratedRegex(@"<!-- python-client[^>]*-->\s*```python\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex PythonBlock();
}
