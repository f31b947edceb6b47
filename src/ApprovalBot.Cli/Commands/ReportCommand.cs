using System.CommandLine;
using ApprovalBot.Client;

namespace ApprovalBot.Cli.Commands;

/// <summary><c>orphans</c> and <c>stale</c>: the reconciler's two reports, op <c>report</c> on the wire.</summary>
internal static class ReportCommand
{
    public static Command Create(string name, string description, GlobalOptions global, CliIo io)
    {
        var command = new Command(name, description);
        command.SetAction(async (result, cancellationToken) =>
        {
            var caller = global.CreateCaller(result, io);
            var response = await caller.SendAsync(new ReportRequest { Name = name }, cancellationToken).ConfigureAwait(false);
            if (!caller.Json)
            {
                var report = response.Report ?? new Report(name, []);
                await io.Out.WriteLineAsync(HumanOutput.ReportTable(report)).ConfigureAwait(false);
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
