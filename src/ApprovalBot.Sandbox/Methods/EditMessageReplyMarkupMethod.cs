using System.Text.Json.Nodes;
using ApprovalBot.Sandbox.State;
using ApprovalBot.Sandbox.Validation;

namespace ApprovalBot.Sandbox.Methods;

/// <summary>Without reply_markup the keyboard is removed, which is how bots take buttons off a decided card.</summary>
internal sealed class EditMessageReplyMarkupMethod(SandboxState state) : StateMethod(state)
{
    public override string Name => "editMessageReplyMarkup";

    protected override JsonNode Invoke(ValidatedCall call)
    {
        var message = MessageToEdit(call);
        ApplyEdit(message, message.Current with { Method = Name, At = State.Now, ReplyMarkup = ReplyMarkup(call) });
        return message.ToJson();
    }
}
