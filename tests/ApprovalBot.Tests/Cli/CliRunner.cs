using ApprovalBot.Cli;

namespace ApprovalBot.Tests.Cli;

/// <summary>The outcome of one in-process <c>approvalctl</c> run.</summary>
internal sealed record CliRun(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}

/// <summary>Runs <see cref="CliApp"/> in-process with captured streams, as the process entry point would.</summary>
internal static class CliRunner
{
    public static Task<CliRun> RunAsync(params string[] args) => RunWithStdinAsync("", args);

    /// <summary>Runs with <paramref name="stdin"/> piped in as UTF-8.</summary>
    public static Task<CliRun> RunWithStdinAsync(string stdin, params string[] args) =>
        RunWithStdinBytesAsync(System.Text.Encoding.UTF8.GetBytes(stdin), args);

    /// <summary>Runs with exactly these bytes piped in (stdin is bytes to approvalctl, as to any process).</summary>
    public static Task<CliRun> RunWithStdinBytesAsync(byte[] stdin, params string[] args) => RunCoreAsync(stdin, args, commandLine: null);

    /// <summary>
    /// Runs as a process given these argument bytes would: each argument decoded as the runtime decodes argv on Linux
    /// (invalid UTF-8 replaced by U+FFFD), the bytes themselves behind the program's name, as /proc/self/cmdline holds them.
    /// </summary>
    public static Task<CliRun> RunWithArgumentBytesAsync(params byte[][] args)
    {
        byte[] commandLine = [.. "approvalctl\0"u8, .. args.SelectMany(arg => (byte[])[.. arg, 0])];
        return RunCoreAsync([], [.. args.Select(arg => System.Text.Encoding.UTF8.GetString(arg))], () => commandLine);
    }

    private static async Task<CliRun> RunCoreAsync(byte[] stdin, string[] args, Func<byte[]?>? commandLine)
    {
        using var input = new MemoryStream(stdin, writable: false);
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await CliApp.RunAsync(args, input, output, error, commandLine: commandLine);
        return new CliRun(exitCode, output.ToString(), error.ToString());
    }
}
