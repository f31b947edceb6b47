using System.CommandLine;
using System.Globalization;
using ApprovalBot.Client;

namespace ApprovalBot.Cli.Commands;

internal static class WaitCommand
{
    /// <summary>The service caps a wait at 600 000 ms.</summary>
    private const int MaxTimeoutSeconds = 600;

    public static Command Create(GlobalOptions global, CliIo io)
    {
        var id = DraftArguments.Id();
        var timeout = new Option<int>("--timeout")
        {
            Description = $"Seconds to wait for a decision, 0-{MaxTimeoutSeconds}.",
            DefaultValueFactory = _ => 30,
            HelpName = "seconds",
            // A custom parser rather than a validator: a validator would throw on a non-number instead of reporting it.
            CustomParser = result => IntRange.Parse(result, "--timeout", 0, MaxTimeoutSeconds) ?? 30,
        };
        var until = new Option<bool>("--final")
        {
            Description = "Wait until the flow has ended (executed, rejected, failed, blocked, unknown, …), not just the decision.",
        };
        var command = new Command("wait", $"Wait until a draft is decided; exit {ExitCodes.WaitTimedOut} if the timeout comes first.") { id, timeout, until };
        command.SetAction(async (result, cancellationToken) =>
        {
            var caller = global.CreateCaller(result, io);
            var seconds = result.GetValue(timeout);
            var draftId = result.GetRequiredValue(id);
            var final = result.GetValue(until);
            var response = await caller.SendAsync(new WaitRequest { Id = draftId, TimeoutMs = seconds * 1000, Until = final ? WaitUntil.Final : null }, cancellationToken).ConfigureAwait(false);
            var draft = response.Draft ?? throw CliException.Internal("the service answered wait without a draft");
            if (!caller.Json)
            {
                await io.Out.WriteLineAsync(HumanOutput.Draft(draft)).ConfigureAwait(false);
            }
            if (response.Decided == false)
            {
                // With --json the printed line says it ("decided":false); the exit code tells a script.
                if (caller.Json)
                {
                    return ExitCodes.WaitTimedOut;
                }
                await io.Error.WriteLineAsync(ErrorText.OneLine(string.Create(CultureInfo.InvariantCulture,
                    $"timeout: {draftId} not {(final ? "finished" : "decided")} within {seconds} s (state {draft.State})"))).ConfigureAwait(false);
                return ExitCodes.WaitTimedOut;
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
