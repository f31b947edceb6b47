using ApprovalBot.Client;

namespace ApprovalBot.Cli;

/// <summary>
/// The pipe a command talks to: <c>--pipe</c>, else <c>$APPROVALBOT_PIPE</c>, else the default. A relative path
/// (<c>./p.sock</c>) is refused, as the service refuses it for its <c>Pipe:Name</c>: taken for a pipe name, it was looked
/// for as <c>$TMPDIR/CoreFxPipe_./p.sock</c>, and the error said the service was not running while it served that socket.
/// Apart from <see cref="GlobalOptions"/>, so the submit fast path loads no System.CommandLine to use it.
/// </summary>
internal static class PipeArgument
{
    public static bool IsRelativePath(string name) => !Path.IsPathRooted(name) && name.AsSpan().IndexOfAny('/', '\\') >= 0;

    public static string RelativePathError(string source, string name) =>
        $"{source} {ErrorText.Quote(name)} is a relative path: give a pipe name or an absolute socket path (here {ErrorText.Quote(Path.GetFullPath(name))})";

    /// <summary>
    /// <c>$APPROVALBOT_PIPE</c>, else the default name; a relative path there is bad input (exit 2), said before anything
    /// is sent, and so is a variable set but empty or blank (a compose file's unset variable), as an empty <c>--pipe</c>
    /// is: it meant the default pipe, a service the caller did not name.
    /// </summary>
    public static string FromEnvironment()
    {
        if (Environment.GetEnvironmentVariable("APPROVALBOT_PIPE") is { } set && string.IsNullOrWhiteSpace(set))
        {
            throw CliException.BadInput($"APPROVALBOT_PIPE is set but empty: give a pipe name or an absolute socket path, or unset it for '{PipeClient.DefaultPipeName}'");
        }
        return PipeClient.PipeNameFromEnvironment() is var name && IsRelativePath(name)
            ? throw CliException.BadInput(RelativePathError("APPROVALBOT_PIPE", name))
            : name;
    }

    /// <summary>A --pipe that names nothing: empty, or only whitespace (taken for a name, it was "not running", exit 5).</summary>
    public static bool IsBlank(string name) => string.IsNullOrWhiteSpace(name);
}
