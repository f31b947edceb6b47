using System.Text.Json;
using ApprovalBot.Client;

namespace ApprovalBot.Cli;

/// <summary>
/// Reads the draft text and context for <c>submit</c> and refuses bad input before anything is sent, so a
/// typo never reaches the store half-formed.
/// </summary>
internal static class SubmitInput
{
    /// <summary>
    /// The most text read: the service's largest <c>Pipe:MaxLineBytes</c> (64 MiB), beyond which no request it could ever
    /// accept can carry it.
    /// </summary>
    internal const int MaxTextBytes = 64 * 1024 * 1024;

    /// <summary>
    /// The text exactly as given: no trimming, no newline handling, so its SHA-256 is what the caller expects. A file
    /// or stdin must be UTF-8; a leading UTF-8 byte order mark is dropped (it is not part of the text or its hash),
    /// and bytes that are not UTF-8 are refused, never replaced.
    /// </summary>
    public static async Task<string> ReadTextAsync(string? text, string? textFile, Stream stdin, CancellationToken cancellationToken)
    {
        if (text is not null && textFile is not null)
        {
            throw CliException.BadInput("give the text once: --text or --text-file, not both", "draft.text");
        }
        if (text is not null)
        {
            return NotEmpty(text, "--text");
        }
        if (textFile is not null)
        {
            if (textFile.Length == 0)
            {
                throw CliException.BadInput("--text-file is empty: give the path of a file", "draft.text");
            }
            var source = $"--text-file {ErrorText.Quote(textFile)}";
            byte[] bytes;
            try
            {
                // Read in pieces even when the file says its size: a huge binary file is then named as not UTF-8 at its
                // first bad byte, as stdin or a FIFO is, rather than as too large.
                await using var file = new FileStream(textFile, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
                bytes = await ReadAtMostAsync(file, source, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw CliException.BadInput($"cannot read --text-file {ErrorText.Quote(textFile)}: {ErrorText.IoFailure(e, textFile)}", "draft.text");
            }
            return NotEmpty(DecodeUtf8(bytes, source), source);
        }
        var piped = await ReadAtMostAsync(stdin, "stdin", cancellationToken).ConfigureAwait(false);
        return NotEmpty(DecodeUtf8(piped, "stdin"), "stdin");
    }

    /// <summary>
    /// The one place an empty text is refused, however it came (an empty file, a stdin of only a byte order mark, an
    /// empty --text): one message, and nothing sent. Only-whitespace text is the service's to refuse, by its own rule.
    /// </summary>
    private static string NotEmpty(string text, string source) => text.Length > 0
        ? text
        : throw CliException.BadInput($"{source} is empty: a draft needs a text (pass --text, --text-file, or pipe the text on stdin)", "draft.text");

    /// <summary>
    /// All of <paramref name="input"/>, read in pieces, each checked as UTF-8 as it comes, and refused as soon as it holds
    /// more than <see cref="MaxTextBytes"/>: an endless or huge input is never read whole (hundreds of MB used to be
    /// decoded before the service refused them), and one that is not text is named so at its first bad byte, not as
    /// too large once 64 MiB of it were read.
    /// </summary>
    private static async Task<byte[]> ReadAtMostAsync(Stream input, string source, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var piece = new byte[81_920];
        var scratch = new char[piece.Length];
        // Bytes before this offset are whole valid UTF-8 characters; a character cut by a piece's end is checked with the next.
        var valid = 0;
        int read;
        while ((read = await input.ReadAsync(piece, cancellationToken).ConfigureAwait(false)) > 0)
        {
            buffer.Write(piece, 0, read);
            valid = CheckUtf8(buffer.GetBuffer().AsSpan(valid, (int)buffer.Length - valid), valid, scratch, source);
            if (buffer.Length > MaxTextBytes)
            {
                throw TooLarge(source);
            }
        }
        return buffer.ToArray();
    }

    /// <summary>
    /// Checks <paramref name="bytes"/> (starting at <paramref name="offset"/> of the input) as UTF-8 that may go on,
    /// refusing at the first bad byte; returns the offset up to which the input is whole valid characters.
    /// </summary>
    private static int CheckUtf8(ReadOnlySpan<byte> bytes, int offset, char[] scratch, string source)
    {
        while (true)
        {
            var status = System.Text.Unicode.Utf8.ToUtf16(bytes, scratch, out var read, out _, replaceInvalidSequences: false, isFinalBlock: false);
            offset += read;
            bytes = bytes[read..];
            switch (status)
            {
                case System.Buffers.OperationStatus.Done or System.Buffers.OperationStatus.NeedMoreData:
                    return offset;
                case System.Buffers.OperationStatus.InvalidData:
                    throw NotUtf8(source, offset);
            }
            // DestinationTooSmall: the rest goes on in the next round.
        }
    }

    private static CliException NotUtf8(string source, int offset) => CliException.BadInput(
        $"{source} is not valid UTF-8 (byte offset {offset.ToString(System.Globalization.CultureInfo.InvariantCulture)}); the text must be UTF-8", "draft.text");

    private static CliException TooLarge(string source) =>
        CliException.BadInput($"{source} is larger than {MaxTextBytes} bytes (64 MiB), more than the service accepts in a request", "draft.text");

    /// <summary>
    /// <paramref name="bytes"/> as UTF-8 without a leading byte order mark (EF BB BF, which some editors write); any
    /// byte that is not part of a valid UTF-8 character is a usage error naming its offset, not a U+FFFD in the text.
    /// </summary>
    internal static string DecodeUtf8(ReadOnlySpan<byte> bytes, string source)
    {
        var bom = bytes.StartsWith(Utf8ByteOrderMark) ? Utf8ByteOrderMark.Length : 0;
        var chars = new char[bytes.Length - bom];
        var status = System.Text.Unicode.Utf8.ToUtf16(bytes[bom..], chars, out var read, out var written, replaceInvalidSequences: false, isFinalBlock: true);
        return status == System.Buffers.OperationStatus.Done
            ? new string(chars, 0, written)
            : throw NotUtf8(source, read + bom);
    }

    private static ReadOnlySpan<byte> Utf8ByteOrderMark => [0xEF, 0xBB, 0xBF];

    /// <summary>
    /// Parses <c>--context-json</c>: one JSON object, each key once per object, every string valid Unicode, nesting at
    /// most <see cref="ProtocolJson.MaxContextDepth"/> levels, as the service demands. Refused here, not by the service, so that a bad context is named as the option it came from
    /// and nothing is sent; an escaped lone surrogate (<c>"\ud800"</c>) would otherwise fail as an internal error
    /// when the request is written, since JSON text may hold one but a .NET string cannot be written back from it.
    /// </summary>
    public static JsonElement? ParseContext(string? contextJson)
    {
        if (contextJson is null)
        {
            return null;
        }
        JsonElement context;
        try
        {
            if (JsonDepth.Of(StrictUtf8.GetBytes(contextJson)) is var nesting && nesting > ProtocolJson.MaxContextDepth)
            {
                throw CliException.BadInput(
                    $"--context-json must nest at most {ProtocolJson.MaxContextDepth} levels of objects and arrays, itself included (it nests {nesting})", "draft.context");
            }
            // Duplicates are found by CheckStrings, which can name the key; the parser's own check reports only a position.
            context = JsonElement.Parse(contextJson);
        }
        catch (JsonException e)
        {
            // The exception text is not shown: UseSystemResourceKeys reduces it to a resource key.
            throw CliException.BadInput($"--context-json is not valid JSON (near byte {e.BytePositionInLine ?? 0} of line {(e.LineNumber ?? 0) + 1})", "draft.context");
        }
        catch (ArgumentException)
        {
            // A lone surrogate in the argument itself (possible where argv is UTF-16): it cannot be made UTF-8.
            throw CliException.BadInput("--context-json is not valid Unicode text", "draft.context");
        }
        if (context.ValueKind != JsonValueKind.Object)
        {
            throw CliException.BadInput($"--context-json must be a JSON object, not {context.ValueKind.ToString().ToLowerInvariant()}", "draft.context");
        }
        CheckStrings(context, "$");
        return context;
    }

    private static readonly System.Text.UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Every key and string of <paramref name="element"/> decodes to valid Unicode, and no object repeats a key.</summary>
    private static void CheckStrings(JsonElement element, string path)
    {
        switch (JsonTextCheck.FirstFault(element, path, repeatedNames: true))
        {
            case null:
                return;
            case { Kind: JsonTextFaultKind.UnreadableName } fault:
                throw NotUnicode($"a key in {fault.Path}");
            case { Kind: JsonTextFaultKind.UnreadableString } fault:
                throw NotUnicode($"the string at {fault.Path}");
            case { Kind: JsonTextFaultKind.RepeatedName } fault:
                // Compared as decoded: "a" and "\u0061" are the same key to any JSON reader.
                throw CliException.BadInput($"--context-json has the key {ErrorText.Quote(fault.Name!)} twice in {ErrorText.OneLine(fault.Path)}; a key may appear once per object", "draft.context");
        }
    }

    private static CliException NotUnicode(string where) => CliException.BadInput(
        $"--context-json is not valid Unicode text: {ErrorText.OneLine(where)} has an unpaired surrogate escape (\\ud800-\\udfff without its pair)", "draft.context");
}
