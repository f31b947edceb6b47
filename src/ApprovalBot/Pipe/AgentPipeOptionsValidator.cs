using ApprovalBot.Client;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Pipe;

internal sealed class AgentPipeOptionsValidator : IValidateOptions<AgentPipeOptions>
{
    /// <summary>A local agent writes a line of the largest size in far less; an hour bounds how long a stalled one holds a slot.</summary>
    internal static readonly TimeSpan MinLineTimeout = TimeSpan.FromSeconds(1), MaxLineTimeout = TimeSpan.FromHours(1);

    /// <summary>The largest Pipe:MaxLineBytes, so the largest request line the service can ever accept (approvalctl refuses more text).</summary>
    internal const int LargestMaxLineBytes = 64 * 1024 * 1024;

    public ValidateOptionsResult Validate(string? name, AgentPipeOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Name))
        {
            errors.Add($"ApprovalBot:Pipe:Name must be a pipe name or an absolute socket path (got '{options.Name}').");
        }
        else
        {
            if (!Path.IsPathRooted(options.Name) && options.Name.IndexOfAny(['/', '\\']) >= 0)
            {
                errors.Add($"ApprovalBot:Pipe:Name '{options.Name}' must be a plain name or an absolute path, not a relative path.");
            }
            if (System.Text.Encoding.UTF8.GetByteCount(options.SocketPath) > SocketPaths.MaxBytes)
            {
                errors.Add($"ApprovalBot:Pipe:Name gives the socket path '{options.SocketPath}', longer than the {SocketPaths.MaxBytes} bytes a Unix socket allows.");
            }
        }
        if (options.MaxLineBytes is < 1024 or > LargestMaxLineBytes)
        {
            errors.Add($"ApprovalBot:Pipe:MaxLineBytes must be between 1024 and 67108864 (got {options.MaxLineBytes}).");
        }
        if (options.MaxContextBytes is < 2 or > 1024 * 1024)
        {
            errors.Add($"ApprovalBot:Pipe:MaxContextBytes must be between 2 and 1048576 (got {options.MaxContextBytes}).");
        }
        if (options.MaxConnections is < 1 or > 10_000)
        {
            errors.Add($"ApprovalBot:Pipe:MaxConnections must be between 1 and 10000 (got {options.MaxConnections}).");
        }
        if (options.LineTimeout < MinLineTimeout || options.LineTimeout > MaxLineTimeout)
        {
            errors.Add($"ApprovalBot:Pipe:LineTimeout must be between {MinLineTimeout} and {MaxLineTimeout}, written [d.]hh:mm:ss (got {options.LineTimeout}).");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
