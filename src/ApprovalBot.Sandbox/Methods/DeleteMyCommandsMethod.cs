using System.Text.Json.Nodes;
using ApprovalBot.Sandbox.State;
using ApprovalBot.Sandbox.Validation;

namespace ApprovalBot.Sandbox.Methods;

internal sealed class DeleteMyCommandsMethod(SandboxState state) : StateMethod(state)
{
    public override string Name => "deleteMyCommands";

    protected override JsonNode Invoke(ValidatedCall call)
    {
        State.Commands.Delete(call.Node("scope"), call.String("language_code"));
        return true;
    }
}
