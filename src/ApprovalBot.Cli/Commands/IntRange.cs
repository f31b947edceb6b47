using System.CommandLine.Parsing;
using System.Globalization;

namespace ApprovalBot.Cli.Commands;

/// <summary>Parses a bounded integer option, reporting bad values as parse errors (exit 2) with the allowed range.</summary>
internal static class IntRange
{
    public static int? Parse(ArgumentResult result, string option, int min, int max) => Parse<int>(result,
        token => int.TryParse(token, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max ? value : null,
        token => $"{option} must be a whole number {min}-{max}, not '{token}'.");

    /// <summary>A draft's seq: a whole number, 1 or more.</summary>
    public static long? ParseSeq(ArgumentResult result, string option) => Parse<long>(result,
        token => long.TryParse(token, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) && value >= 1 ? value : null,
        token => $"{option} must be a draft seq, a whole number 1 or more, not {ErrorText.Quote(token)}.");

    /// <summary>The option's last value as <paramref name="accept"/> reads it; null when it was not given or not accepted (then with the error).</summary>
    private static T? Parse<T>(ArgumentResult result, Func<string, T?> accept, Func<string, string> refusal) where T : struct
    {
        if (result.Tokens.Count == 0)
        {
            return null;
        }
        var token = result.Tokens[^1].Value;
        if (accept(token) is { } value)
        {
            return value;
        }
        result.AddError(refusal(token));
        return null;
    }
}
