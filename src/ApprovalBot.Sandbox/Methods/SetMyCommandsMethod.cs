using System.Text.Json.Nodes;
using ApprovalBot.Sandbox.State;
using ApprovalBot.Sandbox.Validation;

namespace ApprovalBot.Sandbox.Methods;

internal sealed class SetMyCommandsMethod(SandboxState state) : StateMethod(state)
{
    private const int MaxCommands = 100;

    public override string Name => "setMyCommands";

    protected override JsonNode Invoke(ValidatedCall call)
    {
        var commands = call.Node("commands")!.AsArray()
            .Select(c => new BotCommandInfo((string)c!["command"]!, (string)c["description"]!))
            .ToArray();
        if (commands.Length > MaxCommands)
        {
            throw BotApiException.BadRequest("too many commands");
        }

        State.Commands.Set(call.Node("scope"), call.String("language_code"), commands);
        return true;
    }
}
