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
    public static async Task<CliRun> RunWithStdinBytesAsync(byte[] stdin, params string[] args)
    {
        using var input = new MemoryStream(stdin, writable: false);
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await CliApp.RunAsync(args, input, output, error);
        return new CliRun(exitCode, output.ToString(), error.ToString());
    }
}
