using System.CommandLine;
using ApprovalBot.Client;

namespace ApprovalBot.Cli.Commands;

internal static class GetCommand
{
    public static Command Create(GlobalOptions global, CliIo io)
    {
        var id = DraftArguments.Id();
        var command = new Command("get", "Show a draft: state, hash, decision, execution and text.") { id };
        command.SetAction(async (result, cancellationToken) =>
        {
            var caller = global.CreateCaller(result, io);
            var response = await caller.SendAsync(new GetRequest { Id = result.GetRequiredValue(id) }, cancellationToken).ConfigureAwait(false);
            var draft = response.Draft ?? throw CliException.Internal("the service answered get without a draft");
            if (!caller.Json)
            {
                await io.Out.WriteLineAsync(HumanOutput.Draft(draft)).ConfigureAwait(false);
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
