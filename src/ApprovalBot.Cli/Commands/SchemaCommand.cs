using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using ApprovalBot.Client;

namespace ApprovalBot.Cli.Commands;

internal static class SchemaCommand
{
    // Relaxed escaping keeps the description readable (no \u0027); the output is never embedded in HTML.
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly JsonSerializerOptions OneLine = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Command Create(GlobalOptions global, CliIo io)
    {
        var command = new Command("schema", "Print the JSON Schema of the submit request (needs no service).");
        command.SetAction(async (result, _) =>
        {
            var schema = ProtocolJson.SubmitRequestSchema();
            // --json means one line here too, so the output composes with line-based tools.
            var text = global.IsJson(result) ? schema.ToJsonString(OneLine) : schema.ToJsonString(Indented);
            await io.Out.WriteLineAsync(text).ConfigureAwait(false);
            return ExitCodes.Ok;
        });
        return command;
    }
}
