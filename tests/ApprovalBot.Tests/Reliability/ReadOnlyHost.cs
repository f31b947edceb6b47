using System.Diagnostics;
using System.Text;
using ApprovalBot.Client;

namespace ApprovalBot.Tests.Reliability;

/// <summary>
/// The real host as a child process, launched as <c>Infrastructure/HostProcess</c> does (same arguments and data
/// directory layout) plus environment variables of its own: here the LD_PRELOAD shim of <see cref="ReadOnlyFilesystem"/>.
/// </summary>
internal sealed class ReadOnlyHost : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ReadOnlyHost(Process process, string pipeName)
    {
        _process = process;
        PipeName = pipeName;
    }

    public string PipeName { get; }

    public bool HasExited => _process.HasExited;

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

    /// <summary>Starts the host with <paramref name="environment"/> added and returns once its pipe is listening.</summary>
    public static async Task<ReadOnlyHost> StartAsync(string dataDirectory, IReadOnlyDictionary<string, string> environment)
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
        info.Environment["DOTNET_gcServer"] = "0";
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var host = new ReadOnlyHost(process, pipeName);
        process.OutputDataReceived += (_, e) => host.Capture(e.Data);
        process.ErrorDataReceived += (_, e) => host.Capture(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var first = await Task.WhenAny(host._listening.Task, process.WaitForExitAsync(timeout.Token));
        if (first != host._listening.Task)
        {
            await host.DisposeAsync();
            throw new InvalidOperationException($"The host did not start listening:\n{host.Output}");
        }
        return host;
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

    public Task<PipeClient> ConnectAsync() => PipeClient.ConnectAsync(PipeName, TimeSpan.FromSeconds(10));

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
