using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace ApprovalBot.Cli;

/// <summary>
/// Wording for error lines. An error is one line on stderr (scripts read it with <c>read</c> or <c>head -1</c>), so
/// any value quoted in it, the user's or the service's, has its line breaks and other control characters escaped.
/// Exception texts are not shown: the CLI is published with UseSystemResourceKeys (start-up size and time), which
/// reduces the runtime's messages to resource keys such as <c>IO_PathNotFound_Path</c>.
/// </summary>
internal static class ErrorText
{
    /// <summary>Longest value quoted in full; a longer one is shown by its start and end.</summary>
    private const int MaxQuoted = 200;

    /// <summary><paramref name="text"/> on one line: control characters, U+0085 and U+2028/U+2029 written as escapes.</summary>
    public static string OneLine(string text)
    {
        if (text.AsSpan().IndexOfAnyInRange('\0', '\u001f') < 0 && text.AsSpan().IndexOfAny(AlsoEscaped) < 0)
        {
            return text;
        }
        var line = new StringBuilder(text.Length + 16);
        foreach (var ch in text)
        {
            if (ch == '\n') line.Append("\\n");
            else if (ch == '\r') line.Append("\\r");
            else if (ch == '\t') line.Append("\\t");
            else if (ch < ' ' || AlsoEscaped.Contains(ch)) line.Append(CultureInfo.InvariantCulture, $"\\u{(int)ch:x4}");
            else line.Append(ch);
        }
        return line.ToString();
    }

    /// <summary>DEL, and the characters some readers take for a line break (NEL, LINE and PARAGRAPH SEPARATOR).</summary>
    private static ReadOnlySpan<char> AlsoEscaped => ['\u007f', '\u0085', '\u2028', '\u2029'];

    /// <summary>A user's value for an error message, in single quotes: on one line, and shortened when long.</summary>
    public static string Quote(string value)
    {
        var shown = value.Length <= MaxQuoted
            ? value
            : string.Concat(value.AsSpan(0, MaxQuoted - 50), "…", value.AsSpan(value.Length - 40), $" ({value.Length.ToString(CultureInfo.InvariantCulture)} characters)");
        return "'" + OneLine(shown) + "'";
    }

    /// <summary>
    /// Why a file or socket could not be used, in our words: the exception's type (and errno) say it, its text does
    /// not (see the class remarks). A <paramref name="path"/> that is a directory is said so: opening one for
    /// reading is refused as access denied.
    /// </summary>
    public static string IoFailure(Exception e, string? path = null) => e switch
    {
        // The client's words for a refused connect, the OS's reason in them (its SocketException says "Unknown socket
        // error" for some).
        Client.PipeConnectException refused => refused.Reason,
        FileNotFoundException or DirectoryNotFoundException => "no such file or directory",
        PathTooLongException => "the path is too long",
        UnauthorizedAccessException when path is not null && Directory.Exists(path) => "is a directory",
        UnauthorizedAccessException => "permission denied",
        // Socket failures carry the system's own words (strerror), not a resource key.
        IOException { InnerException: System.Net.Sockets.SocketException socket } => Lower(socket.Message),
        // Other system call failures keep their errno as HResult (the runtime's Unix convention).
        IOException { HResult: > 0 and < 4096 } io => Lower(Marshal.GetPInvokeErrorMessage(io.HResult)),
        _ => "input/output error",
    };

    private static string Lower(string message) =>
        message.Length > 1 && char.IsUpper(message[0]) && char.IsLower(message[1]) ? char.ToLowerInvariant(message[0]) + message[1..] : message;
}
