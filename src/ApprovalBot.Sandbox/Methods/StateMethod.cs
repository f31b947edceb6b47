using System.Text.Json.Nodes;
using ApprovalBot.Sandbox.State;
using ApprovalBot.Sandbox.Validation;

namespace ApprovalBot.Sandbox.Methods;

/// <summary>A method that runs entirely under the state lock, so each call is atomic against others and against the control surface.</summary>
internal abstract class StateMethod(SandboxState state) : IBotMethod
{
    protected SandboxState State { get; } = state;

    public abstract string Name { get; }

    public Task<JsonNode> InvokeAsync(ValidatedCall call, CancellationToken ct) => Task.FromResult(State.Gate.Write(() => Invoke(call)));

    protected abstract JsonNode Invoke(ValidatedCall call);

    protected static JsonObject? ReplyMarkup(ValidatedCall call) => call.Node("reply_markup")?.DeepClone() as JsonObject;

    protected void TakeSendSlot(SandboxChat chat)
    {
        if (State.Limits.TryAcquire(chat.Id, chat.Type == "private", State.Now) is { } retryAfter)
        {
            throw BotApiException.TooManyRequests(retryAfter);
        }
    }

    protected StoredMessage MessageToEdit(ValidatedCall call)
    {
        if (call.Has("inline_message_id"))
        {
            throw BotApiException.BadRequest("inline messages are not supported by the sandbox");
        }

        var chatId = call.ChatId() ?? throw BotApiException.BadRequest("chat_id is required");
        var messageId = call.Long("message_id") ?? throw BotApiException.BadRequest("message_id is required");
        var chat = State.ChatForBot(chatId);
        var message = chat.Find(messageId) ?? throw BotApiException.BadRequest("message to edit not found");
        return message.From.Id == State.Bot.Id ? message : throw BotApiException.BadRequest("message can't be edited");
    }

    protected static void ApplyEdit(StoredMessage message, StoredVersion edited)
    {
        if (edited.SameContentAs(message.Current))
        {
            throw BotApiException.BadRequest(
                "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message");
        }

        message.Versions.Add(edited);
    }
}
