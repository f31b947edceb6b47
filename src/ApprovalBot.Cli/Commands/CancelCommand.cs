using System.CommandLine;
using ApprovalBot.Client;

namespace ApprovalBot.Cli.Commands;

/// <summary><c>cancel</c>: withdraws a draft its agent no longer wants executed (op <c>cancel</c> on the wire).</summary>
internal static class CancelCommand
{
    public static Command Create(GlobalOptions global, CliIo io)
    {
        var id = DraftArguments.Id();
        var reason = new Option<string>("--reason")
        {
            Description = $"Why, shown on the approver's card: one line, at most {ProtocolJson.MaxReasonLength} characters.",
            HelpName = "text",
        };
        var command = new Command("cancel",
            $"Withdraw a draft that is pending, carded, approved but not running yet, or failed; exit {ExitCodes.Conflict} once it is past that. " +
            "Repeating it for a draft it cancelled answers the same.")
        {
            id, reason,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var caller = global.CreateCaller(result, io);
            var request = new CancelRequest { Id = result.GetRequiredValue(id), Reason = result.GetValue(reason) };
            var response = await caller.SendAsync(request, cancellationToken).ConfigureAwait(false);
            var draft = response.Draft ?? throw CliException.Internal("the service answered cancel without a draft");
            if (!caller.Json)
            {
                await io.Out.WriteLineAsync(HumanOutput.Draft(draft)).ConfigureAwait(false);
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
