using System.CommandLine;
using ApprovalBot.Client;

namespace ApprovalBot.Cli.Commands;

internal static class ListCommand
{
    public static Command Create(GlobalOptions global, CliIo io)
    {
        var state = new Option<string>("--state")
        {
            Description = "Only drafts in this state.",
            HelpName = OneOf.HelpName(States.All),
            CustomParser = result => OneOf.Parse(result, "--state", "a draft state", States.All),
        };
        var kind = new Option<string>("--kind") { Description = "Only drafts of this kind." };
        var limit = new Option<int?>("--limit")
        {
            Description = "At most this many, newest first (1-1000; service default 50).",
            HelpName = "n",
            CustomParser = result => IntRange.Parse(result, "--limit", 1, 1000),
        };
        var before = new Option<long?>("--before")
        {
            Description = "Only drafts with a smaller seq (older): the next page, as a full page's 'more:' line says.",
            HelpName = "seq",
            CustomParser = result => IntRange.ParseSeq(result, "--before"),
        };
        var command = new Command("list", "List drafts, newest first.") { state, kind, limit, before };
        command.SetAction(async (result, cancellationToken) =>
        {
            var caller = global.CreateCaller(result, io);
            var request = new ListRequest { State = result.GetValue(state), Kind = result.GetValue(kind), Limit = result.GetValue(limit), Before = result.GetValue(before) };
            var response = await caller.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (!caller.Json)
            {
                await io.Out.WriteLineAsync(HumanOutput.DraftTable(response.Drafts ?? [])).ConfigureAwait(false);
                if (response.NextBefore is { } next)
                {
                    // On stderr, so a script reading the table from stdout sees the same lines as before paging existed.
                    await io.Error.WriteLineAsync(HumanOutput.NextPage(request, next, result.GetValue(global.Pipe))).ConfigureAwait(false);
                }
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
