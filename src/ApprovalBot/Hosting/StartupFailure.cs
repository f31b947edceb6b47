using Microsoft.Extensions.Options;

namespace ApprovalBot.Hosting;

internal static class StartupFailure
{
    /// <summary>Every configuration failure in <paramref name="ex"/>, one per line, or null when it is not about configuration.</summary>
    public static IReadOnlyList<string>? ConfigurationErrors(Exception ex)
    {
        var failures = ex switch
        {
            OptionsValidationException o => o.Failures,
            AggregateException a when a.InnerExceptions.All(e => e is OptionsValidationException) =>
                a.InnerExceptions.Cast<OptionsValidationException>().SelectMany(o => o.Failures),
            // The binder's own message names the key, the value and the type; its stack trace says nothing more.
            InvalidOperationException i when IsWrongType(i) => [i.Message],
            // A configuration file that is not JSON: the file is named here, where in it by the parser.
            InvalidDataException d when d.InnerException is FormatException && d.Message.StartsWith("Failed to load configuration", StringComparison.Ordinal) &&
                                           d.GetBaseException() is var cause && cause != d =>
                [$"{d.Message} {cause.Message}"],
            _ => null,
        };
        return failures?.ToList();
    }

    /// <summary>Errors as the start and the store commands print them after their heading: each on a line of its own, as "  - error".</summary>
    public static string AsList(IEnumerable<string> errors) => string.Concat(errors.Select(e => Environment.NewLine + "  - " + e));

    /// <summary>The binder's failure for a value of the wrong type (MaxBatch=lots): its message names the key and the value.</summary>
    public static bool IsWrongType(InvalidOperationException ex) =>
        ex.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal);

    /// <summary>The key a binder's "Failed to convert configuration value '…' at '&lt;key&gt;' …" names, if it names one.</summary>
    public static string? WrongTypeKey(InvalidOperationException ex)
    {
        const string at = " at '";
        var start = ex.Message.IndexOf(at, StringComparison.Ordinal);
        var end = start < 0 ? -1 : ex.Message.IndexOf('\'', start + at.Length);
        return end < 0 ? null : ex.Message[(start + at.Length)..end];
    }
}
