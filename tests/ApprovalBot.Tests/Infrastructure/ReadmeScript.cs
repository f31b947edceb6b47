using System.Diagnostics;
using System.Text.RegularExpressions;
using ApprovalBot.Tests.Docs;

namespace ApprovalBot.Tests.Infrastructure;

/// <summary>
/// A shell block of the README marked <c>&lt;!-- name: … --&gt;</c>, run as written with <c>bash -e</c>: only the lines that
/// set the block's variables (<c>db=/var/lib/…</c>) are replaced by the test's values, so what a test proves is the
/// command an operator copies.
/// </summary>
internal static partial class ReadmeScript
{
    public static string Block(string name)
    {
        var readme = File.ReadAllText(ReadmeTests.RepositoryFile("README.md"));
        var match = Regex.Match(readme, $@"<!-- {Regex.Escape(name)}:[^>]*-->\s*```sh\n(.*?)```", RegexOptions.Singleline);
        Assert.True(match.Success, $"README.md has no shell block marked <!-- {name}: … -->");
        return match.Groups[1].Value;
    }

    /// <summary>The block with each of <paramref name="variables"/> set to the test's value; every one must be set by the block.</summary>
    public static string With(string block, IReadOnlyDictionary<string, string> variables)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var lines = block.Split('\n').Select(line =>
        {
            var assignment = Assignment().Match(line);
            if (!assignment.Success || !variables.TryGetValue(assignment.Groups[1].Value, out var value))
            {
                return line;
            }
            seen.Add(assignment.Groups[1].Value);
            return $"{assignment.Groups[1].Value}='{value.Replace("'", "'\\''", StringComparison.Ordinal)}'";
        });
        var script = string.Join('\n', lines);
        Assert.Equal(variables.Keys.Order(StringComparer.Ordinal), seen.Order(StringComparer.Ordinal));
        return script;
    }

    /// <summary>Runs the block with <c>bash -e</c> (with <paramref name="environment"/> added); the exit code, stdout and stderr, and how long it took.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr, TimeSpan Took)> RunAsync(
        string name, IReadOnlyDictionary<string, string> variables, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("-e");
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(With(Block(name), variables));
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"README block '{name}' did not finish within 2 minutes");
        }
        return (process.ExitCode, await stdout, await stderr, watch.Elapsed);
    }

    [GeneratedRegex(@"^([a-z]+)=")]
    private static partial Regex Assignment();
}
