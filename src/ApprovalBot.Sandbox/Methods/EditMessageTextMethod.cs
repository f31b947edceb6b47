using System.Text.Json.Nodes;
using ApprovalBot.Sandbox.Formatting;
using ApprovalBot.Sandbox.State;
using ApprovalBot.Sandbox.Validation;

namespace ApprovalBot.Sandbox.Methods;

/// <summary>Like Telegram, an edit without reply_markup removes the inline keyboard.</summary>
internal sealed class EditMessageTextMethod(SandboxState state) : StateMethod(state)
{
    public override string Name => "editMessageText";

    protected override JsonNode Invoke(ValidatedCall call)
    {
        if (call.Has("rich_message"))
        {
            throw BotApiException.BadRequest("rich_message is not supported by the sandbox");
        }

        var source = call.String("text") ?? throw BotApiException.BadRequest("text is required");
        var message = MessageToEdit(call);
        if (message.Current.Text is null)
        {
            throw BotApiException.BadRequest("there is no text in the message to edit");
        }

        var parseMode = call.String("parse_mode");
        var text = MessageTextParser.ParseText(source, parseMode);
        ApplyEdit(message, message.Current with
        {
            Method = Name,
            At = State.Now,
            Text = text,
            SourceText = source,
            ParseMode = parseMode,
            ReplyMarkup = ReplyMarkup(call),
        });
        return message.ToJson();
    }
}
