using System.CommandLine;
using ApprovalBot.Client;

namespace ApprovalBot.Cli.Commands;

internal static class ListCommand
{
    public static Command Create(GlobalOptions global, CliIo io)
    {
        var state = new Option<string>("--state") { Description = "Only drafts in this state." };
        state.AcceptOnlyFromAmong([.. States.All]);
        var kind = new Option<string>("--kind") { Description = "Only drafts of this kind." };
        var limit = new Option<int?>("--limit")
        {
            Description = "At most this many, newest first (1-1000; service default 50).",
            HelpName = "n",
            CustomParser = result => IntRange.Parse(result, "--limit", 1, 1000),
        };
        var command = new Command("list", "List drafts, newest first.") { state, kind, limit };
        command.SetAction(async (result, cancellationToken) =>
        {
            var caller = global.CreateCaller(result, io);
            var request = new ListRequest { State = result.GetValue(state), Kind = result.GetValue(kind), Limit = result.GetValue(limit) };
            var response = await caller.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (!caller.Json)
            {
                await io.Out.WriteLineAsync(HumanOutput.DraftTable(response.Drafts ?? [])).ConfigureAwait(false);
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
