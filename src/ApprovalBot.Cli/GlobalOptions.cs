using System.CommandLine;
using ApprovalBot.Client;

namespace ApprovalBot.Cli;

/// <summary>Options every command accepts, before or after its name.</summary>
internal sealed class GlobalOptions
{
    public Option<string> Pipe { get; } = new("--pipe")
    {
        Description = $"Pipe name, or an absolute Unix socket path. Default: $APPROVALBOT_PIPE, else '{PipeClient.DefaultPipeName}'.",
        HelpName = "name-or-path",
        Recursive = true,
    };

    public Option<bool> Json { get; } = new("--json")
    {
        Description = "Print the service's response object as one JSON line instead of human text; an error answer then goes only there, not to stderr.",
        Recursive = true,
    };

    public GlobalOptions()
    {
        // An empty name would otherwise mean the default pipe: a script whose variable is unset must not reach a
        // service it did not name.
        Pipe.Validators.Add(result =>
        {
            if (result.Tokens.Any(token => PipeArgument.IsBlank(token.Value)))
            {
                result.AddError("--pipe must not be empty: give a pipe name or an absolute socket path, or leave --pipe out for $APPROVALBOT_PIPE or 'approvalbot'.");
            }
            else if (result.Tokens.FirstOrDefault(token => PipeArgument.IsRelativePath(token.Value)) is { } relative)
            {
                result.AddError(PipeArgument.RelativePathError("--pipe", relative.Value) + ".");
            }
        });
    }

    public void AddTo(Command root)
    {
        root.Options.Add(Pipe);
        root.Options.Add(Json);
    }

    public bool IsJson(ParseResult result) => result.GetValue(Json);

    public ServiceCaller CreateCaller(ParseResult result, CliIo io) =>
        new(result.GetValue(Pipe) is { Length: > 0 } pipe ? pipe : PipeArgument.FromEnvironment(), IsJson(result), io.Out);
}
