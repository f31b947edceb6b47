using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace ApprovalBot.Execution.Routes;

/// <summary>
/// Runs a command route: argv from config (no shell), the draft as JSON on stdin, the id and idempotency key in
/// the environment (the service's, without its own <c>ApprovalBot__*</c> settings). Exit 0 is executed with the first stdout line as the result; anything else is a failed attempt.
/// </summary>
internal sealed class CommandRunner(TimeProvider time)
{
    private const int MaxCapturedChars = 16 * 1024;
    private const int MaxSignal = 64;

    private static bool IsServiceSetting(string name) =>
        name.StartsWith("ApprovalBot__", StringComparison.OrdinalIgnoreCase) || name.StartsWith("ApprovalBot:", StringComparison.OrdinalIgnoreCase);

    public async Task<AttemptOutcome> RunAsync(ExecutorRouteOptions route, ExecutionRequest request, CancellationToken cancellationToken)
    {
        // Before the start: once the program runs, a missing input can no longer be told from a run that acted (it
        // read empty stdin and may have done something with it).
        if (!request.TryToJson(out var payload, out var problem))
        {
            return AttemptOutcome.InputNotWritten(problem);
        }
        var info = new ProcessStartInfo(route.Command[0])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = new UTF8Encoding(false),
            StandardErrorEncoding = new UTF8Encoding(false),
        };
        foreach (var arg in route.Command.Skip(1))
        {
            info.ArgumentList.Add(arg);
        }
        // The service's own settings are not the route's business, and ApprovalBot__Telegram__Token is where the
        // README keeps the bot token: a route script (often an agent's) must not be able to poll or post as the bot.
        foreach (var name in info.Environment.Keys.Where(IsServiceSetting).ToList())
        {
            info.Environment.Remove(name);
        }
        info.Environment["APPROVAL_ID"] = request.Draft.Id;
        info.Environment["APPROVAL_IDEMPOTENCY_KEY"] = request.IdempotencyKey;
        info.Environment["APPROVAL_ATTEMPT"] = request.Attempt.ToString(System.Globalization.CultureInfo.InvariantCulture);

        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException("Process.Start returned null");
        }
        catch (Exception ex) when (ex is Win32Exception or InvalidOperationException)
        {
            // A missing or non-executable program will not start on a retry either: a human must fix the route.
            return AttemptOutcome.Failure($"could not start '{route.Command[0]}': {ex.Message}", retryable: false);
        }
        using (process)
        {
            var stdout = ReadBoundedAsync(process.StandardOutput);
            var stderr = ReadBoundedAsync(process.StandardError);
            using var timeout = new CancellationTokenSource(route.Timeout, time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
            var stdin = WriteStdinAsync(process, payload, linked.Token);
            try
            {
                await process.WaitForExitAsync(linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Kill(process);
                await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
                var partial = await CollectAsync(stderr).ConfigureAwait(false);
                return AttemptOutcome.Interrupted($"timed out after {route.TimeoutSeconds}s; the process tree was killed" + Tail(partial));
            }
            await stdin.ConfigureAwait(false);
            var output = await CollectAsync(stdout).ConfigureAwait(false);
            var errors = await CollectAsync(stderr).ConfigureAwait(false);
            if (process.ExitCode == 0)
            {
                return AttemptOutcome.Success(AttemptOutcome.FirstLine(output));
            }
            if (IsSignalExit(process.ExitCode))
            {
                // .NET reports a child killed by signal N as 128 + N, the same number a program may exit with on
                // purpose. Read cautiously: a kill is not a failure the program reported, it may have posted before
                // it died, so on a route that does not dedupe it becomes unknown rather than a blind retry.
                return AttemptOutcome.Interrupted(
                    $"killed by signal {process.ExitCode - 128} (or exited with code {process.ExitCode})" + Tail(errors));
            }
            return AttemptOutcome.Failure($"exit code {process.ExitCode}" + Tail(errors), retryable: true);
        }
    }

    /// <summary>Signals are 1..64 on Linux, so only 129..192 can be a kill; 193..255 is an exit code the program chose.</summary>
    internal static bool IsSignalExit(int exitCode) => exitCode is > 128 and <= 128 + MaxSignal;

    private static string Tail(string? stderr) =>
        string.IsNullOrWhiteSpace(stderr) ? "" : ": " + stderr.Trim();

    private static async Task WriteStdinAsync(Process process, byte[] payload, CancellationToken cancellationToken)
    {
        try
        {
            await process.StandardInput.BaseStream.WriteAsync(payload, cancellationToken).ConfigureAwait(false);
            await process.StandardInput.BaseStream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The program exited or stopped reading without taking its input; its exit code tells the outcome.
        }
        finally
        {
            try
            {
                process.StandardInput.Close();
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>Keeps the first part of a stream and drains the rest, so a chatty child never blocks on a full pipe.</summary>
    private static async Task<string> ReadBoundedAsync(StreamReader reader)
    {
        var kept = new StringBuilder();
        var buffer = new char[4096];
        int read;
        while ((read = await reader.ReadAsync(buffer).ConfigureAwait(false)) > 0)
        {
            var room = MaxCapturedChars - kept.Length;
            if (room > 0)
            {
                kept.Append(buffer, 0, Math.Min(room, read));
            }
        }
        return kept.ToString();
    }

    /// <summary>A grandchild that escaped the kill may hold the pipe open; do not wait on it forever.</summary>
    private static async Task<string?> CollectAsync(Task<string> reading)
    {
        try
        {
            return await reading.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }
}
