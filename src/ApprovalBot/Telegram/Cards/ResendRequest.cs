using System.Globalization;
using System.Text.Json.Nodes;
using ApprovalBot.Telegram.Api;
using ApprovalBot.Telegram.Updates;

namespace ApprovalBot.Telegram.Cards;

/// <summary>Who asked for a card again, and by which update: a button press (its query id) or a command (its message).</summary>
internal sealed record ResendRequest(User From, string? QueryId = null, Message? Command = null)
{
    public string Actor => "telegram:" + From.Id.ToString(CultureInfo.InvariantCulture);

    /// <summary>The ledger details naming the request, so the same update delivered again is recognised (<see cref="Keys"/>).</summary>
    public JsonObject Details()
    {
        var details = new JsonObject { ["requested_by"] = From.Id }.PutUser(From);
        if (QueryId is not null)
        {
            details["via"] = "button";
            details["query_id"] = QueryId;
        }
        else if (Command is not null)
        {
            details["via"] = "command";
            details["request_chat_id"] = Command.Chat.Id;
            details["request_message_id"] = Command.MessageId;
        }
        return details;
    }

    public (string Path, object Value)[] Keys() => QueryId is not null
        ? [("$.query_id", QueryId)]
        : Command is not null ? [("$.request_chat_id", Command.Chat.Id), ("$.request_message_id", Command.MessageId)] : [];
}
