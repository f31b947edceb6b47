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

    /// <summary>Whether the shared object at <paramref name="path"/> is mapped into the host process.</summary>
    public bool HasLoaded(string path) =>
        File.ReadLines($"/proc/{_process.Id}/maps").Any(line => line.EndsWith(path, StringComparison.Ordinal));

    /// <summary>
    /// How many of the host's open file descriptors on <paramref name="file"/> were opened read-only (O_RDONLY in
    /// /proc/&lt;pid&gt;/fdinfo): SQLite falls back to that when it opens a connection while the disk is read-only.
    /// </summary>
    public int OpenedReadOnly(string file)
    {
        var count = 0;
        foreach (var fd in Directory.EnumerateFiles($"/proc/{_process.Id}/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget != file) continue;
                var flags = File.ReadLines($"/proc/{_process.Id}/fdinfo/{Path.GetFileName(fd)}").First(l => l.StartsWith("flags:", StringComparison.Ordinal));
                if ((Convert.ToInt32(flags["flags:".Length..].Trim(), 8) & 3) == 0) count++;
            }
            catch (IOException)
            {
                // The descriptor was closed while we looked.
            }
        }
        return count;
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

    /// <summary>
    /// Starts the host and returns once it logs that the pipe is listening. <paramref name="environment"/> is added
    /// to the child's environment (e.g. an LD_PRELOAD fault shim).
    /// </summary>
    public static async Task<HostProcess> StartAsync(
        string dataDirectory, IEnumerable<string>? settings = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var host = Launch(dataDirectory, settings, environment);
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
    public static HostProcess Launch(string dataDirectory) => Launch(dataDirectory, null, null);

    /// <summary>Starts the host and waits for it to exit on its own (e.g. refused configuration, or killed by a crash shim).</summary>
    public static async Task<HostProcess> RunToExitAsync(
        string dataDirectory, IEnumerable<string>? settings = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var host = Launch(dataDirectory, settings, environment);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await host._process.WaitForExitAsync(timeout.Token);
        return host;
    }

    /// <summary>
    /// Starts the host and returns once it listens or has exited on its own (a refused start), for tests that accept
    /// either: <see cref="HasExited"/> tells which.
    /// </summary>
    public static async Task<HostProcess> StartOrExitAsync(
        string dataDirectory, IEnumerable<string>? settings = null, IReadOnlyDictionary<string, string>? environment = null, string? program = null)
    {
        var host = Launch(dataDirectory, settings, environment, program);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await Task.WhenAny(host._listening.Task, host._process.WaitForExitAsync(timeout.Token));
        if (host._process.HasExited)
        {
            // Every line it wrote, before the test reads why it stopped.
            await host._process.WaitForExitAsync();
        }
        else if (!host._listening.Task.IsCompleted)
        {
            throw new TimeoutException($"The host neither listened nor exited within 60 s:\n{host.Output}");
        }
        return host;
    }

    /// <param name="program">A copy of the program (<see cref="ProgramCopy"/>), or null for the build's own.</param>
    private static HostProcess Launch(string dataDirectory, IEnumerable<string>? settings, IReadOnlyDictionary<string, string>? environment, string? program = null)
    {
        var pipeName = Path.Combine(dataDirectory, "p.sock");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = dataDirectory,
        };
        info.ArgumentList.Add(program ?? Path.Combine(AppContext.BaseDirectory, "ApprovalBot.dll"));
        info.ArgumentList.Add($"--ApprovalBot:DataDirectory={dataDirectory}");
        info.ArgumentList.Add($"--ApprovalBot:Pipe:Name={pipeName}");
        info.ArgumentList.Add("--ApprovalBot:Sandbox:Url=http://127.0.0.1:0");
        foreach (var setting in settings ?? [])
        {
            info.ArgumentList.Add("--" + setting);
        }
        info.Environment["DOTNET_gcServer"] = "0";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }
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

    /// <summary>
    /// SIGKILL to the service alone, as <c>kill -9 PID</c> or the kernel's OOM killer sends it: what it started keeps
    /// running, unlike <see cref="KillAsync"/>, which kills the tree.
    /// </summary>
    public async Task KillHostOnlyAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: false);
        }
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
    }
}
