using System.Diagnostics;
using System.Globalization;
using ApprovalBot.Client;

namespace ApprovalBot.Benchmarks;

/// <summary>
/// The real service as a child process (<c>dotnet ApprovalBot.dll</c>, the Release build beside this program)
/// with its shipped configuration and logging, on a data directory of the benchmark's. Its console output is
/// drained (and kept only for a failure message).
/// </summary>
internal sealed class HostUnderTest : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Queue<string> _tail = new();

    private HostUnderTest(Process process, string socket, long startedAt)
    {
        _process = process;
        Socket = socket;
        StartedAt = startedAt;
    }

    public string Socket { get; }

    /// <summary>Stopwatch timestamp taken just before the process was started.</summary>
    public long StartedAt { get; }

    /// <summary>Milliseconds from process start until the pipe answered its first ping.</summary>
    public double StartupMs { get; private set; }

    public int Pid => _process.Id;

    /// <summary>The settings that point the host at <paramref name="sandbox"/> as its Telegram, with limits no measurement reaches.</summary>
    public static IEnumerable<string> SandboxTelegram(ApprovalBot.Sandbox.SandboxServer sandbox) =>
    [
        $"ApprovalBot:Telegram:Token={sandbox.Token}",
        $"ApprovalBot:Telegram:ApiBaseUrl={sandbox.BaseUrl}",
        $"ApprovalBot:Telegram:ChatId={sandbox.PrivateChatId.ToString(CultureInfo.InvariantCulture)}",
        $"ApprovalBot:Telegram:Approvers:0={sandbox.Settings.ApproverId.ToString(CultureInfo.InvariantCulture)}",
        "ApprovalBot:Telegram:RateLimits:PerChatPerSecond=1000",
        "ApprovalBot:Telegram:RateLimits:PerChatBurst=1000",
        "ApprovalBot:Telegram:RateLimits:PerGroupPerMinute=10000",
        "ApprovalBot:Telegram:RateLimits:GlobalPerSecond=1000",
    ];

    /// <param name="hostDll">Another build of the host (A/B experiments); the one beside this program when null.</param>
    public static async Task<HostUnderTest> StartAsync(string dataDirectory, IEnumerable<string>? settings = null, string? hostDll = null)
    {
        var socket = Path.Combine(dataDirectory, "p.sock");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = dataDirectory,
        };
        info.ArgumentList.Add(hostDll ?? Path.Combine(AppContext.BaseDirectory, "ApprovalBot.dll"));
        info.ArgumentList.Add($"--ApprovalBot:DataDirectory={dataDirectory}");
        info.ArgumentList.Add($"--ApprovalBot:Pipe:Name={socket}");
        info.ArgumentList.Add("--ApprovalBot:Sandbox:Url=http://127.0.0.1:0");
        // For experiments only (e.g. BENCH_HOST_ARGS="Serilog:MinimumLevel:Default=Warning"); the report runs without it.
        var extra = Environment.GetEnvironmentVariable("BENCH_HOST_ARGS")?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? [];
        foreach (var s in (settings ?? []).Concat(extra))
        {
            // "env:NAME=VALUE" sets an environment variable of the host instead (experiments with runtime knobs).
            if (s.StartsWith("env:", StringComparison.Ordinal) && s.IndexOf('=', StringComparison.Ordinal) is > 4 and var eq)
            {
                info.Environment[s[4..eq]] = s[(eq + 1)..];
                continue;
            }
            info.ArgumentList.Add("--" + s);
        }
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var started = Stopwatch.GetTimestamp();
        var host = new HostUnderTest(process, socket, started);
        process.OutputDataReceived += (_, e) => host.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => host.Keep(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await host.WaitUntilAnsweringAsync(TimeSpan.FromSeconds(120));
        return host;
    }

    private long _consoleLines;

    /// <summary>Lines the host wrote to its console (stdout and stderr) so far.</summary>
    public long ConsoleLines => Interlocked.Read(ref _consoleLines);

    private void Keep(string? line)
    {
        if (line is null) return;
        Interlocked.Increment(ref _consoleLines);
        lock (_tail)
        {
            _tail.Enqueue(line);
            if (_tail.Count > 40) _tail.Dequeue();
        }
    }

    /// <summary>Polls connect + ping every millisecond or so; the first answer ends the start-up time.</summary>
    private async Task WaitUntilAnsweringAsync(TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The host exited with {_process.ExitCode}:\n{Tail}");
            }
            if (File.Exists(Socket))
            {
                try
                {
                    await using var client = await PipeClient.ConnectAsync(Socket, TimeSpan.FromMilliseconds(500));
                    var pong = await client.PingAsync();
                    if (pong.Ok)
                    {
                        StartupMs = Ms.Since(StartedAt);
                        return;
                    }
                }
                catch (Exception ex) when (ex is IOException or TimeoutException or UnauthorizedAccessException)
                {
                }
            }
            await Task.Delay(1);
        }
        throw new TimeoutException($"The host did not answer on {Socket}:\n{Tail}");
    }

    public string Tail
    {
        get
        {
            lock (_tail)
            {
                return string.Join('\n', _tail);
            }
        }
    }

    /// <summary>Peak resident set size so far (VmHWM), in MB.</summary>
    public double PeakRssMb => Status("VmHWM:") / 1024.0;

    public double RssMb => Status("VmRSS:") / 1024.0;

    /// <summary>CPU seconds (user + system) the host has used so far, from /proc/PID/stat (clock ticks of 10 ms).</summary>
    public double CpuSeconds
    {
        get
        {
            var stat = File.ReadAllText($"/proc/{_process.Id}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // Fields 14 and 15 of stat (utime, stime) are 11 and 12 here, counted after "pid (comm) ".
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
        }
    }

    /// <summary>Threads of the host right now (/proc/PID/status).</summary>
    public int Threads => (int)Status("Threads:");

    /// <summary>Open file descriptors of the host right now, and how many of them are sockets and pipes.</summary>
    public (int Total, int Sockets, int Pipes) FileDescriptors()
    {
        int total = 0, sockets = 0, pipes = 0;
        foreach (var fd in Directory.EnumerateFiles($"/proc/{_process.Id}/fd"))
        {
            total++;
            string? target;
            try
            {
                target = new FileInfo(fd).LinkTarget;
            }
            catch (IOException)
            {
                continue; // closed while we looked
            }
            if (target?.StartsWith("socket:", StringComparison.Ordinal) == true) sockets++;
            else if (target?.StartsWith("pipe:", StringComparison.Ordinal) == true) pipes++;
        }
        return (total, sockets, pipes);
    }

    /// <summary>/proc/PID/io: bytes the host had written to storage (write_bytes) and its write system calls (syscw), files and sockets alike.</summary>
    public (long StorageBytes, long WriteCalls) Io()
    {
        long storage = 0, calls = 0;
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/io"))
        {
            var value = line[(line.IndexOf(':') + 1)..].Trim();
            if (line.StartsWith("write_bytes:", StringComparison.Ordinal)) storage = long.Parse(value, CultureInfo.InvariantCulture);
            else if (line.StartsWith("syscw:", StringComparison.Ordinal)) calls = long.Parse(value, CultureInfo.InvariantCulture);
        }
        return (storage, calls);
    }

    public bool HasExited => _process.HasExited;

    /// <summary>SIGTERM, as systemd or Docker stop the service, and the wait for its exit (killed after <paramref name="timeout"/>).</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        if (_process.HasExited) return;
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    private long Status(string key)
    {
        var line = File.ReadLines($"/proc/{_process.Id}/status").First(l => l.StartsWith(key, StringComparison.Ordinal));
        return long.Parse(line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }

    public Task<PipeClient> ConnectAsync() => PipeClient.ConnectAsync(Socket, TimeSpan.FromSeconds(10));

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            // SIGTERM-like stop is not needed for a throwaway data directory; kill is immediate and frees the lock.
            _process.Kill(entireProcessTree: true);
        }
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
