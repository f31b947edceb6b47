using ApprovalBot.Client;

namespace ApprovalBot.Cli;

/// <summary>
/// A failure that ends the command: either found by the CLI itself or answered by the service. It is printed
/// as <c>error &lt;code&gt; (&lt;field&gt;): &lt;message&gt;</c> so scripts and humans see the same code the protocol uses.
/// </summary>
internal sealed class CliException(int exitCode, string code, string message, string? field = null) : Exception(message)
{
    /// <summary>The code shown for bad input the CLI catches before anything is sent.</summary>
    public const string UsageCode = "usage";

    public int ExitCode { get; } = exitCode;

    public string Code { get; } = code;

    public string? Field { get; } = field;

    /// <summary>
    /// True when the service's answer saying it has been printed on stdout (<c>--json</c>): a script reads the error there,
    /// so it is not said a second time on stderr.
    /// </summary>
    public bool AlreadyPrinted { get; private init; }

    public static CliException BadInput(string message, string? field = null) =>
        new(ExitCodes.BadInput, UsageCode, message, field);

    public static CliException Unavailable(string message) =>
        new(ExitCodes.Unavailable, ErrorCodes.Unavailable, message);

    public static CliException Internal(string message) =>
        new(ExitCodes.Internal, ErrorCodes.Internal, message);

    public static CliException FromProtocol(ProtocolError? error) => error is null
        ? Internal("the service refused the request without saying why")
        : new(ExitCodes.FromErrorCode(error.Code), error.Code, error.Message, error.Field);

    /// <summary>An error answer whose line has been printed on stdout as it came (<c>--json</c>): its exit code, and nothing on stderr.</summary>
    public static CliException PrintedAnswer(ProtocolError? error)
    {
        var e = FromProtocol(error);
        return new(e.ExitCode, e.Code, e.Message, e.Field) { AlreadyPrinted = true };
    }

    /// <summary>The error as one line, whatever the message quotes (a service message may quote an id as given).</summary>
    public string ToErrorLine() => ErrorText.OneLine(Field is { Length: > 0 }
        ? $"error {Code} ({Field}): {Message}"
        : $"error {Code}: {Message}");
}
