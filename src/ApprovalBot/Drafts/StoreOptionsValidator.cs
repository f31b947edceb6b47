using Microsoft.Extensions.Options;

namespace ApprovalBot.Drafts;

internal sealed class StoreOptionsValidator : IValidateOptions<StoreOptions>
{
    public ValidateOptionsResult Validate(string? name, StoreOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.DataDirectory))
        {
            errors.Add($"ApprovalBot:DataDirectory must name a folder (got '{options.DataDirectory}').");
        }
        else if (options.DataDirectory.Contains('\0', StringComparison.Ordinal))
        {
            // Not echoed: a NUL would end the line in many a log reader.
            errors.Add("ApprovalBot:DataDirectory is not a valid path: it holds a NUL character (\\0).");
        }
        else if (!StoreOptions.IsValidPath(options.DataDirectory))
        {
            errors.Add($"ApprovalBot:DataDirectory '{options.DataDirectory}' is not a valid path.");
        }
        if (options.MaxBatch is < 1 or > 10_000)
        {
            errors.Add($"ApprovalBot:MaxBatch must be between 1 and 10000 (got {options.MaxBatch}).");
        }
        if (options.BusyTimeoutMs is < 0 or > 600_000)
        {
            errors.Add($"ApprovalBot:BusyTimeoutMs must be between 0 and 600000 (got {options.BusyTimeoutMs}).");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
