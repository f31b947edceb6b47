using System.CommandLine;
using ApprovalBot.Client;

namespace ApprovalBot.Cli.Commands;

internal static class PingCommand
{
    public static Command Create(GlobalOptions global, CliIo io)
    {
        var command = new Command("ping", "Check that the service answers; prints its version.");
        command.SetAction(async (result, cancellationToken) =>
        {
            var caller = global.CreateCaller(result, io);
            var response = await caller.SendAsync(new PingRequest(), cancellationToken).ConfigureAwait(false);
            if (!caller.Json)
            {
                await io.Out.WriteLineAsync($"ok {caller.PipeName} version {response.Version ?? "unknown"}").ConfigureAwait(false);
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
