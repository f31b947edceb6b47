using System.Text.Json.Nodes;
using ApprovalBot.Sandbox.State;
using ApprovalBot.Sandbox.Validation;

namespace ApprovalBot.Sandbox.Methods;

internal sealed class AnswerCallbackQueryMethod(SandboxState state) : StateMethod(state)
{
    private const int MaxTextLength = 200;

    public override string Name => "answerCallbackQuery";

    protected override JsonNode Invoke(ValidatedCall call)
    {
        var query = State.Callbacks.Find(call.String("callback_query_id")!);
        if (query is null || query.Answer is not null || query.Expired)
        {
            throw BotApiException.BadRequest("query is too old and response timeout expired or query ID is invalid");
        }

        var text = call.String("text");
        if (text?.Length > MaxTextLength)
        {
            throw BotApiException.BadRequest("MESSAGE_TOO_LONG");
        }

        query.Answer = new CallbackAnswer(query.Id, text, call.Bool("show_alert"), call.String("url"), call.Long("cache_time"), State.Now);
        return true;
    }
}
