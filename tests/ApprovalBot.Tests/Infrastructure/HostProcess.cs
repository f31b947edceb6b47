using System.Diagnostics;
using System.Text;
using ApprovalBot.Client;

namespace ApprovalBot.Tests.Infrastructure;

/// <summary>
/// The real host as a child process (<c>dotnet ApprovalBot.dll</c> from the test output), for tests where a
/// crash is the point: it can be killed with SIGKILL and started again on the same data directory.
/// </summary>
internal sealed class HostProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<(string Text, TaskCompletionSource Seen)> _awaited = [];

    private HostProcess(Process process, string pipeName)
    {
        _process = process;
        PipeName = pipeName;
    }

    public string PipeName { get; }

    public int ExitCode => _process.ExitCode;

    public bool HasExited => _process.HasExited;

    /// <summary>Resident memory of the host right now, from /proc.</summary>
    public long ResidentBytes
    {
        get
        {
            var line = File.ReadLines($"/proc/{_process.Id}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
    }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts the host and returns once it logs that the pipe is listening.</summary>
    public static async Task<HostProcess> StartAsync(string dataDirectory, IEnumerable<string>? settings = null)
    {
        var host = Launch(dataDirectory, settings);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var exited = host._process.WaitForExitAsync(timeout.Token);
        var first = await Task.WhenAny(host._listening.Task, exited);
        if (first != host._listening.Task)
        {
            throw new InvalidOperationException($"The host did not start listening:\n{host.Output}");
        }
        return host;
    }

    /// <summary>Starts the host and returns at once, for tests that race its start-up.</summary>
    public static HostProcess Launch(string dataDirectory) => Launch(dataDirectory, null);

    /// <summary>Starts the host and waits for it to exit on its own (e.g. refused configuration).</summary>
    public static async Task<HostProcess> RunToExitAsync(string dataDirectory, IEnumerable<string>? settings = null)
    {
        var host = Launch(dataDirectory, settings);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await host._process.WaitForExitAsync(timeout.Token);
        return host;
    }

    private static HostProcess Launch(string dataDirectory, IEnumerable<string>? settings)
    {
        var pipeName = Path.Combine(dataDirectory, "p.sock");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = dataDirectory,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "ApprovalBot.dll"));
        info.ArgumentList.Add($"--ApprovalBot:DataDirectory={dataDirectory}");
        info.ArgumentList.Add($"--ApprovalBot:Pipe:Name={pipeName}");
        info.ArgumentList.Add("--ApprovalBot:Sandbox:Url=http://127.0.0.1:0");
        foreach (var setting in settings ?? [])
        {
            info.ArgumentList.Add("--" + setting);
        }
        info.Environment["DOTNET_gcServer"] = "0";
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var host = new HostProcess(process, pipeName);
        process.OutputDataReceived += (_, e) => host.Capture(e.Data);
        process.ErrorDataReceived += (_, e) => host.Capture(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return host;
    }

    private void Capture(string? line)
    {
        if (line is null) return;
        lock (_output)
        {
            _output.AppendLine(line);
        }
        if (line.Contains("Agent pipe listening", StringComparison.Ordinal))
        {
            _listening.TrySetResult();
        }
        lock (_awaited)
        {
            foreach (var (text, seen) in _awaited)
            {
                if (line.Contains(text, StringComparison.Ordinal)) seen.TrySetResult();
            }
        }
    }

    /// <summary>Completes when the host writes a line containing <paramref name="text"/> (or already has).</summary>
    public Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_awaited)
        {
            _awaited.Add((text, seen));
        }
        if (Output.Contains(text, StringComparison.Ordinal)) seen.TrySetResult();
        return seen.Task.WaitAsync(timeout);
    }

    public Task<PipeClient> ConnectAsync() => PipeClient.ConnectAsync(PipeName, TimeSpan.FromSeconds(10));

    /// <summary>SIGTERM, as systemd or docker stop sends it, then waits for the process to exit.</summary>
    public async Task TerminateAsync()
    {
        using (var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })!)
        {
            await kill.WaitForExitAsync();
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _process.WaitForExitAsync(timeout.Token);
    }

    /// <summary>SIGKILL: no shutdown code runs, as in a power cut of the process.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
    }
}
