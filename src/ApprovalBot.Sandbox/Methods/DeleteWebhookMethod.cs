using System.Text.Json.Nodes;
using ApprovalBot.Sandbox.State;
using ApprovalBot.Sandbox.Validation;

namespace ApprovalBot.Sandbox.Methods;

/// <summary>There is never a webhook in the sandbox; the call still honours drop_pending_updates.</summary>
internal sealed class DeleteWebhookMethod(SandboxState state) : StateMethod(state)
{
    public override string Name => "deleteWebhook";

    protected override JsonNode Invoke(ValidatedCall call)
    {
        if (call.Bool("drop_pending_updates"))
        {
            State.Updates.DropAll();
        }

        return true;
    }
}
