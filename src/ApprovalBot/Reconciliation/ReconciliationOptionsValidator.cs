using ApprovalBot.Drafts;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Reconciliation;

internal sealed class ReconciliationOptionsValidator : IValidateOptions<ReconciliationOptions>
{
    public ValidateOptionsResult Validate(string? name, ReconciliationOptions options)
    {
        var errors = new List<string>();
        if (options.IntervalSeconds is < 1 or > 86_400)
        {
            errors.Add($"ApprovalBot:Reconciliation:IntervalSeconds must be between 1 and 86400 (got {options.IntervalSeconds}).");
        }
        if (options.RemindEvery < TimeSpan.FromMinutes(1) || options.RemindEvery > KindsOptionsValidator.MaxDuration)
        {
            errors.Add($"ApprovalBot:Reconciliation:RemindEvery must be between 00:01:00 and {KindsOptionsValidator.MaxDuration} (ten years) (got {options.RemindEvery}).");
        }
        if (options.MaxGapsPerMessage is < 1 or > 50)
        {
            errors.Add($"ApprovalBot:Reconciliation:MaxGapsPerMessage must be between 1 and 50 (got {options.MaxGapsPerMessage}).");
        }
        if (options.EventWindow <= TimeSpan.Zero || options.EventWindow > KindsOptionsValidator.MaxDuration)
        {
            errors.Add($"ApprovalBot:Reconciliation:EventWindow must be a positive duration, at most {KindsOptionsValidator.MaxDuration} (ten years) (got {options.EventWindow}).");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
