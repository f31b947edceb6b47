using System.Text.Json.Nodes;
using ApprovalBot.Sandbox.State;
using ApprovalBot.Sandbox.Validation;

namespace ApprovalBot.Sandbox.Methods;

/// <summary>
/// Deletes a message as Telegram lets a bot that is a plain member: its own messages anywhere, and the other party's in a
/// private chat, while less than 48 hours old. The chat is gone from then on, as after a deletion by hand.
/// </summary>
internal sealed class DeleteMessageMethod(SandboxState state) : StateMethod(state)
{
    private static readonly TimeSpan MaxAge = TimeSpan.FromHours(48);

    public override string Name => "deleteMessage";

    protected override JsonNode Invoke(ValidatedCall call)
    {
        var chat = State.ChatForBot(call.ChatId());
        var messageId = call.Long("message_id") ?? throw BotApiException.BadRequest("message_id is required");
        var message = chat.Find(messageId) ?? throw BotApiException.BadRequest("message to delete not found");
        if ((message.From.Id != State.Bot.Id && chat.Type != "private") || State.Now - message.Date >= MaxAge)
        {
            throw BotApiException.BadRequest("message can't be deleted");
        }

        chat.Messages.Remove(message);
        return true;
    }
}
