using System.CommandLine;
using System.CommandLine.Invocation;
using ApprovalBot.Cli.Commands;

namespace ApprovalBot.Cli;

/// <summary>The whole of <c>approvalctl</c>, runnable in-process: tests call <see cref="RunAsync"/> with their own streams.</summary>
internal static class CliApp
{
    /// <param name="blockingIo">
    /// The submit fast path may use blocking pipe I/O: only when this is the whole process (Program.cs), never
    /// in a process that also serves (an in-process host would wait on its own thread pool).
    /// </param>
    /// <param name="commandLine">
    /// The process's arguments as bytes (<see cref="ArgumentBytes.ReadOwnCommandLine"/>), read only if an argument
    /// holds a U+FFFD; null when <paramref name="args"/> are exactly what was given (a test's strings).
    /// </param>
    public static async Task<int> RunAsync(string[] args, Stream stdin, TextWriter stdout, TextWriter stderr, bool blockingIo = false, Func<byte[]?>? commandLine = null)
    {
        if (commandLine is not null && ArgumentBytes.Check(args, commandLine) is { } notUtf8)
        {
            await stderr.WriteLineAsync(notUtf8.ToErrorLine()).ConfigureAwait(false);
            return notUtf8.ExitCode;
        }
        var io = new CliIo(stdin, stdout, stderr);
        // Agents run `submit` once per draft, so its plain form skips building the command tree (SubmitFastPath).
        if (SubmitFastPath.TryParse(args) is { } submit)
        {
            return await ExitCodeOfAsync(() => SubmitFastPath.RunAsync(submit, io, blockingIo, CancellationToken.None), stderr).ConfigureAwait(false);
        }
        return await RunFullAsync(args, io).ConfigureAwait(false);
    }

    /// <summary>
    /// Everything but the submit fast path. A method of its own so that the fast path never loads
    /// System.CommandLine: its types appear only here, not in <see cref="RunAsync"/>'s state machine.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static async Task<int> RunFullAsync(string[] args, CliIo io)
    {
        var stderr = io.Error;
        var stdout = io.Out;
        var root = BuildRootCommand(io);
        // No response files: System.CommandLine would otherwise read any argument starting with '@' as a file of
        // arguments, so --text "@hwchase17 thanks" would fail ("Response file not found") or, worse, send the words
        // of a file of that name. Every value is taken as given, as on the submit fast path. (A local, not a static
        // field: a static of this class would load System.CommandLine on the fast path too.)
        var parsed = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });

        // Usage errors are our exit 2, not the library's default, and go to stderr in our error format.
        if (parsed.Action is ParseErrorAction)
        {
            foreach (var error in parsed.Errors)
            {
                // The parser's messages quote the tokens as given, line breaks included.
                await stderr.WriteLineAsync(ErrorText.OneLine($"error {CliException.UsageCode}: {error.Message}")).ConfigureAwait(false);
            }
            await stderr.WriteLineAsync("Run 'approvalctl --help' for usage.").ConfigureAwait(false);
            return ExitCodes.BadInput;
        }

        var invocation = new InvocationConfiguration
        {
            Output = stdout,
            Error = stderr,
            // Failures are mapped to exit codes below; no Ctrl+C hook is registered (the OS default is right for a CLI).
            EnableDefaultExceptionHandler = false,
            ProcessTerminationTimeout = null,
        };
        return await ExitCodeOfAsync(() => parsed.InvokeAsync(invocation), stderr).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs a command; a refusal becomes its exit code and one error line on stderr (none when <c>--json</c> printed the
    /// service's error answer on stdout), anything else exit 1.
    /// </summary>
    private static async Task<int> ExitCodeOfAsync(Func<Task<int>> run, TextWriter stderr)
    {
        try
        {
            return await run().ConfigureAwait(false);
        }
        catch (CliException e)
        {
            if (!e.AlreadyPrinted)
            {
                await stderr.WriteLineAsync(e.ToErrorLine()).ConfigureAwait(false);
            }
            return e.ExitCode;
        }
        catch (Exception e)
        {
            await stderr.WriteLineAsync(ErrorText.OneLine($"error internal: {e.GetType().Name}: {e.Message}")).ConfigureAwait(false);
            return ExitCodes.Internal;
        }
    }

    private static RootCommand BuildRootCommand(CliIo io)
    {
        var global = new GlobalOptions();
        var root = new RootCommand("approvalctl: hand drafts to ApprovalBot and follow them through approval.")
        {
            SubmitCommand.Create(global, io),
            GetCommand.Create(global, io),
            WaitCommand.Create(global, io),
            CancelCommand.Create(global, io),
            ListCommand.Create(global, io),
            ReportCommand.Create("orphans", "Approvals, taps and executions that lost their draft or their route.", global, io),
            ReportCommand.Create("stale", "Drafts waiting too long for a decision or an execution.", global, io),
            PingCommand.Create(global, io),
            SchemaCommand.Create(global, io),
        };
        global.AddTo(root);
        return root;
    }
}
