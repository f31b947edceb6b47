using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Drafts;

internal sealed partial class KindsOptionsValidator : IValidateOptions<KindsOptions>
{
    /// <summary>
    /// The longest duration a report subtracts from now. "Never" is naturally written as TimeSpan.MaxValue, and any
    /// value over ~2,000 years made that subtraction throw, failing every reconcile cycle and report.
    /// </summary>
    internal static readonly TimeSpan MaxDuration = TimeSpan.FromDays(3650);

    public ValidateOptionsResult Validate(string? name, KindsOptions options)
    {
        var errors = new List<string>();
        if (options.Kinds.Count == 0)
        {
            errors.Add("ApprovalBot:Kinds must define at least one kind (e.g. ApprovalBot:Kinds:reply:MaxLength=280).");
        }
        foreach (var (kind, o) in options.Kinds)
        {
            var key = $"ApprovalBot:Kinds:{kind}";
            if (!KindName().IsMatch(kind))
            {
                errors.Add($"{key}: a kind name must be 1-64 characters of [A-Za-z0-9_-].");
            }
            if (o.MaxLength is < 1 or > 1_000_000)
            {
                errors.Add($"{key}:MaxLength must be between 1 and 1000000 (got {o.MaxLength}).");
            }
            if (o.StaleAfter <= TimeSpan.Zero || o.StaleAfter > MaxDuration)
            {
                errors.Add($"{key}:StaleAfter must be a positive duration such as 1.00:00:00 (a day), at most {MaxDuration} (ten years) (got {o.StaleAfter}).");
            }
            if (o.StuckAfter <= TimeSpan.Zero || o.StuckAfter > MaxDuration)
            {
                errors.Add($"{key}:StuckAfter must be a positive duration such as 00:30:00, at most {MaxDuration} (ten years) (got {o.StuckAfter}).");
            }
            if (o.ExpireAfter is { } expire && (expire <= TimeSpan.Zero || expire > MaxDuration))
            {
                errors.Add($"{key}:ExpireAfter must be a positive duration such as 2.00:00:00, at most {MaxDuration} (ten years), or left out for never (got {expire}).");
            }
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex KindName();
}
