using System.Text.Json.Nodes;
using ApprovalBot.Sandbox.State;
using ApprovalBot.Sandbox.Validation;

namespace ApprovalBot.Sandbox.Methods;

internal sealed class GetMyCommandsMethod(SandboxState state) : StateMethod(state)
{
    public override string Name => "getMyCommands";

    protected override JsonNode Invoke(ValidatedCall call) => new JsonArray(
        State.Commands.Get(call.Node("scope"), call.String("language_code"))
            .Select(c => (JsonNode)new JsonObject { ["command"] = c.Command, ["description"] = c.Description })
            .ToArray());
}
