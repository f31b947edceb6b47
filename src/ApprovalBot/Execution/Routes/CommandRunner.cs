using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Execution.Routes;

/// <summary>
/// Runs a command route: argv from config (no shell), the draft as JSON on stdin, the id and idempotency key in
/// the environment (the service's, without its own <c>ApprovalBot__*</c> settings). Exit 0 is executed with the first stdout line as the result; anything else is a failed attempt.
/// The program runs in a session of its own (util-linux <c>setsid</c>, which execs it under the same pid), recorded in the
/// store before it is given the draft (<see cref="CommandSessions"/>), so that whatever is left of the session can be
/// killed when the program exits, times out, or outlived a service that was killed.
/// </summary>
internal sealed class CommandRunner(TimeProvider time, CommandSessions sessions, ILogger<CommandRunner> logger)
{
    private const int MaxCapturedChars = 16 * 1024;
    private const int MaxSignal = 64;

    /// <summary>Most characters of stderr an error keeps: its last lines, which say what went wrong.</summary>
    internal const int MaxStderrTail = 400;

    /// <summary>How long a program that timed out (or a stop cut off) has between SIGTERM and SIGKILL.</summary>
    internal static readonly TimeSpan TermGrace = TimeSpan.FromSeconds(5);

    /// <summary>How long output is awaited after the program exited and its session was killed.</summary>
    private static readonly TimeSpan PipeGrace = TimeSpan.FromSeconds(5);

    /// <summary>setsid's own words when it could not exec the program (exit 126 or 127): nothing ran.</summary>
    private const string SetsidExecFailed = "setsid: failed to execute ";

    private static bool IsServiceSetting(string name) =>
        name.StartsWith("ApprovalBot__", StringComparison.OrdinalIgnoreCase) || name.StartsWith("ApprovalBot:", StringComparison.OrdinalIgnoreCase);

    /// <summary>After a restart, before recovery judges a draft a dead service was running: see <see cref="CommandSessions.EndLeftoverAsync"/>.</summary>
    public Task<bool> EndLeftoverAsync(string draftId) => sessions.EndLeftoverAsync(draftId);

    public async Task<AttemptOutcome> RunAsync(ExecutorRouteOptions route, ExecutionRequest request, CancellationToken cancellationToken)
    {
        // Before the start: once the program runs, a missing input can no longer be told from a run that acted (it
        // read empty stdin and may have done something with it).
        if (!request.TryToJson(out var payload, out var problem))
        {
            return AttemptOutcome.InputNotWritten(problem);
        }
        // --wait only matters if setsid had to fork, which it does not for a child of this service (never a group leader).
        var info = new ProcessStartInfo("setsid")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = new UTF8Encoding(false),
            StandardErrorEncoding = new UTF8Encoding(false),
        };
        info.ArgumentList.Add("--wait");
        foreach (var arg in route.Command)
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
            return AttemptOutcome.Failure($"could not start '{route.Command[0]}' through setsid (util-linux): {ex.Message}", retryable: false);
        }
        using (process)
        {
            var id = request.Draft.Id;
            var pid = process.Id;
            var started = ProcessSignals.StartTime(pid) ?? 0;
            var stdout = new Capture(process.StandardOutput);
            // Stderr is kept by its end: a program says what went wrong last.
            var stderr = new Capture(process.StandardError, keepEnd: true);
            try
            {
                try
                {
                    await sessions.RecordAsync(id, pid, started).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    // Unrecorded, a crash could leave it running unseen: it never gets the draft, whatever went wrong.
                    await TerminateAsync(process, pid, TimeSpan.Zero).ConfigureAwait(false);
                    await EndSessionAsync(id, pid, started).ConfigureAwait(false);
                    return AttemptOutcome.Interrupted($"the program's process could not be recorded ({ex.Message}), so it was killed before it was given the draft");
                }
                using var timeout = new CancellationTokenSource(route.Timeout, time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
                var stdin = WriteStdinAsync(process, payload, linked.Token);
                try
                {
                    await process.WaitForExitAsync(linked.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    var how = await TerminateAsync(process, pid, TermGrace).ConfigureAwait(false);
                    await EndSessionAsync(id, pid, started).ConfigureAwait(false);
                    cancellationToken.ThrowIfCancellationRequested();
                    var partial = await stderr.CollectAsync().ConfigureAwait(false);
                    return AttemptOutcome.Interrupted($"timed out after {route.TimeoutSeconds}s; {how}" + Tail(partial, stderr.CutBefore));
                }
                await stdin.ConfigureAwait(false);
                await EndSessionAsync(id, pid, started).ConfigureAwait(false);
                var output = await stdout.CollectAsync().ConfigureAwait(false);
                var errors = await stderr.CollectAsync().ConfigureAwait(false);
                if (process.ExitCode == 0)
                {
                    return AttemptOutcome.Success(AttemptOutcome.FirstLine(output));
                }
                if (process.ExitCode is 126 or 127 && errors.StartsWith(SetsidExecFailed, StringComparison.Ordinal))
                {
                    // A missing or non-executable program will not start on a retry either: a human must fix the route.
                    return AttemptOutcome.Failure($"could not start '{route.Command[0]}'" + Tail(errors, stderr.CutBefore), retryable: false);
                }
                if (IsSignalExit(process.ExitCode))
                {
                    // .NET reports a child killed by signal N as 128 + N, the same number a program may exit with on
                    // purpose. Read cautiously: a kill is not a failure the program reported, it may have posted before
                    // it died, so on a route that does not dedupe it becomes unknown rather than a blind retry.
                    return AttemptOutcome.Interrupted(
                        $"killed by signal {process.ExitCode - 128} (or exited with code {process.ExitCode})" + Tail(errors, stderr.CutBefore));
                }
                return AttemptOutcome.Failure($"exit code {process.ExitCode}" + Tail(errors, stderr.CutBefore), retryable: true);
            }
            finally
            {
                await sessions.ForgetAsync(id).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Signals are 1..64 on Linux, so only 129..192 can be a kill; 193..255 is an exit code the program chose.</summary>
    internal static bool IsSignalExit(int exitCode) => exitCode is > 128 and <= 128 + MaxSignal;

    /// <summary>
    /// What an error holds of the program's stderr: its last lines as one line of plain text, at most <see cref="MaxStderrTail"/>
    /// characters (<see cref="OutputText.Tail"/>). The whole stream, escapes and line breaks and all, garbled the card and
    /// could write lines of its own into the console log.
    /// </summary>
    private static string Tail(string? stderr, bool cutBefore) =>
        OutputText.Tail(stderr, MaxStderrTail, cutBefore) is { } tail ? ": " + tail : "";

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

    /// <summary>
    /// Stops a program that ran too long (or that a stop cut off): SIGTERM to the program itself first, which a <c>sudo</c>
    /// in front forwards to its command, then SIGKILL to its process group and to it after <paramref name="grace"/>. Returns
    /// only once the program has exited, so its run slot stays taken until then. Says what it did, for the error.
    /// </summary>
    private async Task<string> TerminateAsync(Process process, int pid, TimeSpan grace)
    {
        if (grace > TimeSpan.Zero)
        {
            ProcessSignals.Send(pid, ProcessSignals.SigTerm);
            using var waiting = new CancellationTokenSource(grace, time);
            try
            {
                await process.WaitForExitAsync(waiting.Token).ConfigureAwait(false);
                return "the program was sent SIGTERM and exited, then the rest of its session was killed";
            }
            catch (OperationCanceledException)
            {
                // Still running: killed below.
            }
        }
        ProcessSignals.Send(-pid, ProcessSignals.SigKill);
        ProcessSignals.Send(pid, ProcessSignals.SigKill);
        await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        return $"the program did not exit within {grace.TotalSeconds:0}s of SIGTERM, so its process group was killed (SIGKILL)";
    }

    /// <summary>
    /// Kills what is left of the program's session once the program exited: a background job it left behind must not act
    /// later, nor hold its output open. Processes not this user's to signal are logged and left. Every process is read to
    /// find them, after every run: Linux looks nothing up by session, and <c>kill(-pid, 0)</c> (is the program's group
    /// empty?) misses a job that moved to a group of its own within the session, as a shell with job control puts each one.
    /// </summary>
    private async Task EndSessionAsync(string draftId, int pid, long started)
    {
        // No wait: the program's outcome does not hang on them. A process that took SIGKILL is as good as gone, but one
        // that refused it may yet act, so say so.
        var left = await ProcessSignals.KillSessionAsync(pid, started, TimeSpan.Zero).ConfigureAwait(false);
        if (left.Refused.Count > 0)
        {
            logger.CommandSessionLeft(draftId, pid, string.Join(", ", left.Refused));
        }
    }

    /// <summary>
    /// Keeps the first part of a stream (or with <c>keepEnd</c> its last part) and drains the rest, so a chatty child never
    /// blocks on a full pipe. What was read can be taken before the end of the stream: a process outside the program's
    /// session may hold the pipe open.
    /// </summary>
    private sealed class Capture
    {
        private readonly StringBuilder _kept = new();
        private readonly bool _keepEnd;
        private readonly Task _reading;

        public Capture(StreamReader reader, bool keepEnd = false)
        {
            _keepEnd = keepEnd;
            _reading = ReadAsync(reader);
        }

        /// <summary>Whether the start of the stream was dropped to keep its end.</summary>
        public bool CutBefore { get; private set; }

        private async Task ReadAsync(StreamReader reader)
        {
            var buffer = new char[4096];
            int read;
            while ((read = await reader.ReadAsync(buffer).ConfigureAwait(false)) > 0)
            {
                lock (_kept)
                {
                    if (_keepEnd)
                    {
                        _kept.Append(buffer, 0, read);
                        if (_kept.Length > 2 * MaxCapturedChars)
                        {
                            _kept.Remove(0, _kept.Length - MaxCapturedChars);
                            CutBefore = true;
                        }
                        continue;
                    }
                    var room = MaxCapturedChars - _kept.Length;
                    if (room > 0)
                    {
                        _kept.Append(buffer, 0, Math.Min(room, read));
                    }
                }
            }
        }

        /// <summary>What was read by the end of the stream, or by the end of the grace if it is held open.</summary>
        public async Task<string> CollectAsync()
        {
            try
            {
                await _reading.WaitAsync(PipeGrace).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is TimeoutException or IOException or ObjectDisposedException)
            {
                // Held open, or broken: what came before still counts.
            }
            lock (_kept)
            {
                return _kept.ToString();
            }
        }
    }
}
