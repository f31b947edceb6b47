using System.CommandLine.Parsing;

namespace ApprovalBot.Cli.Commands;

/// <summary>
/// Parses an option that takes one of a few words, reporting any other value as a parse error (exit 2) on one readable
/// line. System.CommandLine's own check (AcceptOnlyFromAmong) lists the words a line each, which the one-line error
/// format could only print as <c>\n\t</c> escapes.
/// </summary>
internal static class OneOf
{
    public static string? Parse(ArgumentResult result, string option, string what, IReadOnlyList<string> words)
    {
        if (result.Tokens.Count == 0)
        {
            return null;
        }
        var token = result.Tokens[^1].Value;
        if (words.Contains(token, StringComparer.Ordinal))
        {
            return token;
        }
        result.AddError($"{option} must be {what}: {string.Join(", ", words.Take(words.Count - 1))} or {words[^1]}, not {ErrorText.Quote(token)}.");
        return null;
    }

    /// <summary>The value's name in help, <c>&lt;a|b|c&gt;</c> as System.CommandLine shows a fixed set of words.</summary>
    public static string HelpName(IEnumerable<string> words) => string.Join('|', words.Order(StringComparer.Ordinal));
}
