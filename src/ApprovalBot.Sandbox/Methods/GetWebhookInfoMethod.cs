using System.Text.Json.Nodes;
using ApprovalBot.Sandbox.State;
using ApprovalBot.Sandbox.Validation;

namespace ApprovalBot.Sandbox.Methods;

internal sealed class GetWebhookInfoMethod(SandboxState state) : StateMethod(state)
{
    public override string Name => "getWebhookInfo";

    protected override JsonNode Invoke(ValidatedCall call) => new JsonObject
    {
        ["url"] = "",
        ["has_custom_certificate"] = false,
        ["pending_update_count"] = State.Updates.PendingCount,
    };
}
