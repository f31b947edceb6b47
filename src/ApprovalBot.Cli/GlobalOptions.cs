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
        Description = "Print the service's response object as one JSON line instead of human text.",
        Recursive = true,
    };

    public void AddTo(Command root)
    {
        root.Options.Add(Pipe);
        root.Options.Add(Json);
    }

    public bool IsJson(ParseResult result) => result.GetValue(Json);

    public ServiceCaller CreateCaller(ParseResult result, CliIo io) =>
        new(result.GetValue(Pipe) is { Length: > 0 } pipe ? pipe : PipeClient.PipeNameFromEnvironment(), IsJson(result), io.Out);
}
