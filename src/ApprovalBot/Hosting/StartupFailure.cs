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
            _ => null,
        };
        return failures?.ToList();
    }

    /// <summary>The binder's failure for a value of the wrong type (MaxBatch=lots): its message names the key and the value.</summary>
    public static bool IsWrongType(InvalidOperationException ex) =>
        ex.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal);
}
