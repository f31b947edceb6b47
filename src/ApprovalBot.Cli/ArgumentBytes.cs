using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Unicode;

namespace ApprovalBot.Cli;

/// <summary>
/// Refuses command-line arguments whose bytes are not UTF-8. On Linux, arguments are bytes and the runtime decodes
/// them as UTF-8 with every invalid sequence replaced by U+FFFD, so <c>--text $'ab\xffcd'</c> would be stored as
/// <c>ab\uFFFDcd</c> and its receipt's sha256 would not be the hash of the bytes given. The bytes themselves are
/// only in /proc/self/cmdline; it is read only when an argument holds a U+FFFD, to tell one given as such (EF BF BD,
/// valid UTF-8) from a replacement, so a run without one pays nothing.
/// </summary>
internal static class ArgumentBytes
{
    /// <summary>Options whose value is the next argument: an invalid argument after one of these is named by it.</summary>
    private static readonly string[] ValueOptions =
        ["--id", "--kind", "--agent", "--text", "--text-file", "--context-json", "--pipe", "--state", "--limit", "--before", "--timeout", "--reason"];

    /// <summary>
    /// A usage error for the first argument whose bytes are not UTF-8, or null. <paramref name="readCommandLine"/>
    /// returns the process's arguments as NUL-terminated bytes (the program's own first, as /proc/self/cmdline has
    /// them), or null when they cannot be read; then, or when those bytes do not line up with
    /// <paramref name="args"/>, the arguments are taken as given, as before this check existed.
    /// </summary>
    public static CliException? Check(string[] args, Func<byte[]?> readCommandLine)
    {
        if (Array.FindIndex(args, arg => arg.Contains('\uFFFD')) < 0)
        {
            return null;
        }
        var raw = readCommandLine() is { } bytes ? Split(bytes) : null;
        if (raw is null || raw.Count < args.Length)
        {
            return null;
        }
        // The arguments are the last entries: before them stand the program and, under `dotnet`, the host's own.
        var first = raw.Count - args.Length;
        for (var i = 0; i < args.Length; i++)
        {
            if (Encoding.UTF8.GetString(raw[first + i]) != args[i])
            {
                return null;
            }
        }
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i].Contains('\uFFFD') && InvalidAt(raw[first + i]) is { } offset)
            {
                return Refusal(args, i, offset);
            }
        }
        return null;
    }

    /// <summary>This process's arguments as the kernel holds them; null where there is no /proc (not Linux).</summary>
    public static byte[]? ReadOwnCommandLine()
    {
        try
        {
            return OperatingSystem.IsLinux() ? File.ReadAllBytes("/proc/self/cmdline") : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static List<byte[]> Split(byte[] commandLine)
    {
        var entries = new List<byte[]>();
        var span = commandLine.AsSpan();
        while (span.Length > 0)
        {
            var end = span.IndexOf((byte)0);
            var entry = end < 0 ? span : span[..end];
            entries.Add(entry.ToArray());
            span = end < 0 ? [] : span[(end + 1)..];
        }
        return entries;
    }

    /// <summary>The offset of the first byte that is not part of a valid UTF-8 character, or null if there is none.</summary>
    private static int? InvalidAt(byte[] bytes)
    {
        var chars = new char[bytes.Length];
        return Utf8.ToUtf16(bytes, chars, out var read, out _, replaceInvalidSequences: false) == OperationStatus.Done ? null : read;
    }

    private static CliException Refusal(string[] args, int index, int offset)
    {
        var arg = args[index];
        string? option = null;
        // --name=value: the offset counts from the value. (An option name is ASCII: one byte a character.)
        var equals = arg.IndexOf('=', StringComparison.Ordinal);
        if (arg.StartsWith("--", StringComparison.Ordinal) && equals > 0 && offset > equals && Array.IndexOf(ValueOptions, arg[..equals]) >= 0)
        {
            option = arg[..equals];
            offset -= equals + 1;
        }
        else if (index > 0 && Array.IndexOf(ValueOptions, args[index - 1]) >= 0)
        {
            option = args[index - 1];
        }
        var at = offset.ToString(CultureInfo.InvariantCulture);
        if (option is null && IsDraftId(args, index))
        {
            // Named as the service names a bad id, not by its position among the arguments.
            return CliException.BadInput($"id is not valid UTF-8 (byte offset {at}); command-line values must be UTF-8", "id");
        }
        var where = option ?? $"argument {(index + 1).ToString(CultureInfo.InvariantCulture)}";
        return option switch
        {
            "--text" => CliException.BadInput($"--text is not valid UTF-8 (byte offset {at}); the text must be UTF-8", "draft.text"),
            // Such a file name exists, but the runtime cannot open it by name: its text can still come on stdin.
            "--text-file" => CliException.BadInput($"--text-file is not valid UTF-8 (byte offset {at}); give a UTF-8 path, or the text on stdin", "draft.text"),
            _ => CliException.BadInput($"{where} is not valid UTF-8 (byte offset {at}); command-line values must be UTF-8", FieldOf(option)),
        };
    }

    /// <summary>Commands whose one positional argument is a draft id.</summary>
    private static readonly string[] IdCommands = ["get", "wait", "cancel"];

    /// <summary>
    /// Whether <c>args[index]</c> is the draft id of get, wait or cancel: the positional argument after the command's
    /// name, counting neither options, nor the value after an option that takes one, but everything after <c>--</c>.
    /// </summary>
    private static bool IsDraftId(string[] args, int index)
    {
        var positional = 0;
        var optionsEnded = false;
        for (var i = 0; i < index; i++)
        {
            if (!optionsEnded && args[i] == "--")
            {
                optionsEnded = true;
            }
            else if (!optionsEnded && args[i].StartsWith('-'))
            {
                i += Array.IndexOf(ValueOptions, args[i]) >= 0 ? 1 : 0;
            }
            else if (positional++ == 0 && Array.IndexOf(IdCommands, args[i]) < 0)
            {
                return false;
            }
        }
        return positional == 1 && (optionsEnded || !args[index].StartsWith('-'));
    }

    /// <summary>The request field an option fills (submit's draft fields, cancel's reason); --kind is left out, as list has one too.</summary>
    private static string? FieldOf(string? option) => option switch
    {
        "--id" => "draft.id",
        "--agent" => "draft.agent",
        "--context-json" => "draft.context",
        "--reason" => "reason",
        _ => null,
    };
}
