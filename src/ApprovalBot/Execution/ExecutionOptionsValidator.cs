using Microsoft.Extensions.Options;

namespace ApprovalBot.Execution;

internal sealed class ExecutionOptionsValidator : IValidateOptions<ExecutionOptions>
{
    public ValidateOptionsResult Validate(string? name, ExecutionOptions options)
    {
        var errors = new List<string>();
        const string key = ExecutionOptions.Section;
        if (options.IntervalSeconds is < 1 or > 86_400)
        {
            errors.Add($"{key}:IntervalSeconds must be between 1 and 86400 (got {options.IntervalSeconds}).");
        }
        if (options.RetryBaseSeconds is < 0 or > 86_400)
        {
            errors.Add($"{key}:RetryBaseSeconds must be between 0 and 86400 (got {options.RetryBaseSeconds}).");
        }
        else if (options.RetryMaxSeconds < options.RetryBaseSeconds || options.RetryMaxSeconds > 86_400)
        {
            errors.Add($"{key}:RetryMaxSeconds must be between RetryBaseSeconds ({options.RetryBaseSeconds}) and 86400 (got {options.RetryMaxSeconds}).");
        }
        if (options.MaxParallel is < 1 or > 64)
        {
            errors.Add($"{key}:MaxParallel must be between 1 and 64 (got {options.MaxParallel}).");
        }
        if (options.BatchSize is < 1 or > 10_000)
        {
            errors.Add($"{key}:BatchSize must be between 1 and 10000 (got {options.BatchSize}).");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
