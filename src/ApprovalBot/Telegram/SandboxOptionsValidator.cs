using Microsoft.Extensions.Options;

namespace ApprovalBot.Telegram;

internal sealed class SandboxOptionsValidator : IValidateOptions<SandboxOptions>
{
    public ValidateOptionsResult Validate(string? name, SandboxOptions options) =>
        Uri.TryCreate(options.Url, UriKind.Absolute, out var url) && url.Scheme == "http"
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"{SandboxOptions.Section}:Url must be an http URL such as http://127.0.0.1:5780 (port 0 picks a free one; got '{options.Url}').");
}
