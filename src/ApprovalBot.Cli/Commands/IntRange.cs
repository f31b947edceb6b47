using System.CommandLine.Parsing;
using System.Globalization;

namespace ApprovalBot.Cli.Commands;

/// <summary>Parses a bounded integer option, reporting bad values as parse errors (exit 2) with the allowed range.</summary>
internal static class IntRange
{
    public static int? Parse(ArgumentResult result, string option, int min, int max)
    {
        if (result.Tokens.Count == 0)
        {
            return null;
        }
        var token = result.Tokens[^1].Value;
        if (int.TryParse(token, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }
        result.AddError($"{option} must be a whole number {min}-{max}, not '{token}'.");
        return null;
    }

    /// <summary>A draft's seq: a whole number, 1 or more.</summary>
    public static long? ParseSeq(ArgumentResult result, string option)
    {
        if (result.Tokens.Count == 0)
        {
            return null;
        }
        var token = result.Tokens[^1].Value;
        if (long.TryParse(token, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) && value >= 1)
        {
            return value;
        }
        result.AddError($"{option} must be a draft seq, a whole number 1 or more, not {ErrorText.Quote(token)}.");
        return null;
    }
}
