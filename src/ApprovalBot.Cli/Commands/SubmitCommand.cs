using System.CommandLine;
using ApprovalBot.Client;

namespace ApprovalBot.Cli.Commands;

internal static class SubmitCommand
{
    public static Command Create(GlobalOptions global, CliIo io)
    {
        var id = new Option<string>("--id") { Required = true, Description = "Draft id: 1-200 of [A-Za-z0-9:_-./@]. Reuse it on retry; same id and text is a no-op." };
        var kind = new Option<string>("--kind") { Required = true, Description = "A kind configured in the service." };
        var agent = new Option<string>("--agent") { Required = true, Description = "Who drafted it." };
        var text = new Option<string>("--text") { Description = "The draft text, exactly as it should be stored." };
        var textFile = new Option<string>("--text-file") { Description = "Read the text from this UTF-8 file (a leading byte order mark is dropped; bytes that are not UTF-8 are refused).", HelpName = "path" };
        var contextJson = new Option<string>("--context-json") { Description = "A JSON object shown with the draft, e.g. {\"rationale\":\"...\",\"source_url\":\"...\"}.", HelpName = "json" };

        var command = new Command("submit", "Store a draft for approval and print the receipt. Text comes from --text, --text-file, or stdin.")
        {
            id, kind, agent, text, textFile, contextJson,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            // All local checks come first: bad input must not open a connection, let alone store anything.
            var draftText = await SubmitInput.ReadTextAsync(result.GetValue(text), result.GetValue(textFile), io.In, cancellationToken).ConfigureAwait(false);
            var context = SubmitInput.ParseContext(result.GetValue(contextJson));
            var draft = new DraftSubmission
            {
                Id = result.GetRequiredValue(id),
                Kind = result.GetRequiredValue(kind),
                Agent = result.GetRequiredValue(agent),
                Text = draftText,
                Context = context,
            };

            var caller = global.CreateCaller(result, io);
            var response = await caller.SendAsync(new SubmitRequest { Draft = draft }, cancellationToken).ConfigureAwait(false);
            var receipt = response.Receipt ?? throw CliException.Internal("the service answered submit without a receipt");
            if (!caller.Json)
            {
                await io.Out.WriteLineAsync(HumanOutput.Receipt(receipt)).ConfigureAwait(false);
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
