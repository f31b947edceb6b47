using System.Text;
using System.Text.Json;

namespace ApprovalBot.Cli;

/// <summary>
/// Reads the draft text and context for <c>submit</c> and refuses bad input before anything is sent, so a
/// typo never reaches the store half-formed.
/// </summary>
internal static class SubmitInput
{
    /// <summary>The text exactly as given: no trimming, no newline handling, so its SHA-256 is what the caller expects.</summary>
    public static async Task<string> ReadTextAsync(string? text, string? textFile, TextReader stdin, CancellationToken cancellationToken)
    {
        if (text is not null && textFile is not null)
        {
            throw CliException.BadInput("give the text once: --text or --text-file, not both", "draft.text");
        }
        if (text is not null)
        {
            return text;
        }
        if (textFile is not null)
        {
            try
            {
                return await File.ReadAllTextAsync(textFile, Encoding.UTF8, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw CliException.BadInput($"cannot read --text-file '{textFile}': {e.Message}", "draft.text");
            }
        }
        var piped = await stdin.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
        return piped.Length > 0
            ? piped
            : throw CliException.BadInput("no text: pass --text, --text-file, or pipe the text on stdin", "draft.text");
    }

    /// <summary>Parses <c>--context-json</c>; it must be one JSON object without duplicate keys, as the service demands.</summary>
    public static JsonElement? ParseContext(string? contextJson)
    {
        if (contextJson is null)
        {
            return null;
        }
        JsonElement context;
        try
        {
            context = JsonElement.Parse(contextJson, new JsonDocumentOptions { AllowDuplicateProperties = false });
        }
        catch (JsonException e)
        {
            // The exception text is not shown: UseSystemResourceKeys reduces it to a resource key.
            throw CliException.BadInput($"--context-json is not valid JSON (near byte {e.BytePositionInLine ?? 0} of line {(e.LineNumber ?? 0) + 1})", "draft.context");
        }
        return context.ValueKind == JsonValueKind.Object
            ? context
            : throw CliException.BadInput($"--context-json must be a JSON object, not {context.ValueKind.ToString().ToLowerInvariant()}", "draft.context");
    }
}
