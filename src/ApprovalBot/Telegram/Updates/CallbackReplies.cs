using ApprovalBot.Telegram.Api;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Telegram.Updates;

/// <summary>
/// Answers button presses. An answer that cannot be delivered never undoes what was stored: a redelivered
/// update's query is "too old" by then, which is expected, and any other failure is only logged.
/// </summary>
internal sealed partial class CallbackReplies(TelegramBotClient client, ILogger<CallbackReplies> logger)
{
    public async Task AnswerAsync(CallbackQuery query, string text, bool alert, CancellationToken cancellationToken)
    {
        try
        {
            await client.AnswerCallbackQuery(new AnswerCallbackQueryRequest
            {
                CallbackQueryId = query.Id,
                // answerCallbackQuery text is limited to 200 characters.
                Text = Cards.HtmlText.Shorten(text, 200),
                ShowAlert = alert ? true : null,
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (ApiRequestException ex) when (ex.IsQueryTooOld)
        {
            LogTooOld(query.Id);
        }
        catch (ApiRequestException ex)
        {
            LogAnswerFailed(ex, query.Id);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Callback query {QueryId} was already answered or expired (a redelivered update)")]
    private partial void LogTooOld(string queryId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not answer callback query {QueryId}")]
    private partial void LogAnswerFailed(Exception ex, string queryId);
}
