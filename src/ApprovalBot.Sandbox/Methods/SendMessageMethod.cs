using System.Text.Json.Nodes;
using ApprovalBot.Sandbox.Formatting;
using ApprovalBot.Sandbox.State;
using ApprovalBot.Sandbox.Validation;

namespace ApprovalBot.Sandbox.Methods;

internal sealed class SendMessageMethod(SandboxState state) : StateMethod(state)
{
    public override string Name => "sendMessage";

    protected override JsonNode Invoke(ValidatedCall call)
    {
        var chat = State.ChatForBot(call.ChatId());
        var source = call.String("text")!;
        var parseMode = call.String("parse_mode");
        var text = MessageTextParser.ParseText(source, parseMode);
        TakeSendSlot(chat);

        var now = State.Now;
        var version = new StoredVersion(Name, now, text, source, parseMode, null, ReplyMarkup(call));
        var message = new StoredMessage(chat, chat.NextMessageId(), State.Bot, now, version, null);
        chat.Messages.Add(message);
        return message.ToJson();
    }
}
