using System.Diagnostics;

namespace ApprovalBot.Benchmarks;

/// <summary><c>approvalctl submit</c> as an agent runs it: a new process per draft, timed from start to exit with the receipt printed.</summary>
internal static class CliRuns
{
    /// <summary>
    /// Publishes approvalctl as the README says (Release, ReadyToRun, framework-dependent) into this program's
    /// bin folder and returns the path of its native launcher.
    /// </summary>
    public static async Task<string> PublishAsync(string repoRoot)
    {
        var output = Path.Combine(AppContext.BaseDirectory, "approvalctl-publish");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = repoRoot,
        };
        foreach (var arg in new[] { "publish", Path.Combine(repoRoot, "src", "ApprovalBot.Cli"), "-c", "Release", "-o", output, "--nologo", "-v", "q" })
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"dotnet publish of approvalctl failed:\n{await stdout}\n{await stderr}");
        }
        return Path.Combine(output, "approvalctl");
    }

    /// <summary>Runs <c>submit</c> <paramref name="warmup"/> + <paramref name="count"/> times; each sample is process start to exit.</summary>
    public static async Task<Samples> SubmitAsync(string socket, string program, string[] prefixArgs, int warmup, int count, string tag)
    {
        var samples = new Samples();
        for (var i = 0; i < warmup + count; i++)
        {
            var info = new ProcessStartInfo(program)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = false,
                UseShellExecute = false,
            };
            foreach (var arg in prefixArgs)
            {
                info.ArgumentList.Add(arg);
            }
            foreach (var arg in new[] { "submit", "--pipe", socket, "--id", $"reply:cli:{tag}:{i}", "--kind", "reply", "--agent", "bench-cli", "--text", Workload.Text })
            {
                info.ArgumentList.Add(arg);
            }
            var start = Stopwatch.GetTimestamp();
            using var process = Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            var elapsed = Ms.Since(start);
            var printed = await stdout;
            if (process.ExitCode != 0 || !printed.StartsWith("stored ", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"approvalctl submit exited {process.ExitCode}: {printed} {await stderr}");
            }
            if (i >= warmup) samples.Add(elapsed);
        }
        return samples;
    }

    /// <summary>`dotnet ApprovalBot.Benchmarks.dll --noop`: a .NET console program that returns at once.</summary>
    public static async Task<Samples> BareAsync(string dll, int warmup, int count)
    {
        var samples = new Samples();
        for (var i = 0; i < warmup + count; i++)
        {
            var info = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true };
            info.ArgumentList.Add(dll);
            info.ArgumentList.Add("--noop");
            var start = Stopwatch.GetTimestamp();
            using var process = Process.Start(info)!;
            await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            if (i >= warmup) samples.Add(Ms.Since(start));
        }
        return samples;
    }
}
