using ApprovalBot.Telegram.Api;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Telegram.Updates;

/// <summary>
/// The getUpdates refusals only a person can end, each said once per episode at Error, naming the cause and the way
/// out, rather than as one more warning of a retry loop: another program polling this bot (409 "terminated by other
/// getUpdates request", from the <see cref="ConflictsBeforeReport"/>th conflict on: one alone is what a restart can
/// leave behind), a webhook set for it (409 "webhook is active": deleted again, as at start) or the token refused
/// (401/404). Another poller or a webhook takes taps this service never sees, so the approvers are told in the chat
/// too, once per episode and cause (a webhook deleted, then a second poller, is two causes, each with its own way out);
/// with the token refused nothing can reach them. An episode of conflicts ends after
/// <see cref="ConflictQuiet"/> without one, however many polls went through in between: two pollers take turns.
/// Only the poller's loop calls this.
/// </summary>
internal sealed partial class PollTrouble(TelegramBotClient client, TelegramChat chat, TimeProvider time, ILogger logger)
{
    internal const int ConflictsBeforeReport = 3;
    internal static readonly TimeSpan ConflictQuiet = TimeSpan.FromMinutes(10);

    internal const string OtherPollerNotice =
        "⚠️ ApprovalBot: another program is receiving this bot's updates (Telegram answers getUpdates with 409 Conflict: " +
        "terminated by other getUpdates request). Taps and commands that reach it are not seen or stored here, so a card can " +
        "stay undecided after a tap. Stop the other copy that uses this bot's token (a second instance, a dev setup), " +
        "or give it a bot of its own.";

    internal const string WebhookNotice =
        "⚠️ ApprovalBot: a webhook was set for this bot, so Telegram sent its updates there (getUpdates answers 409 Conflict: " +
        "webhook is active). Taps delivered to the webhook were not seen or stored here. ApprovalBot deletes the webhook to " +
        "receive taps again; whatever set it (another deployment using this bot's token) should get a bot of its own.";

    private int _conflicts;
    private int _pollerConflicts;
    private DateTimeOffset _lastConflict;
    private bool _webhookReported;
    private bool _pollerReported;
    private DateTimeOffset? _tokenRefusedSince;

    /// <summary>A poll went through: the token works, and a conflict episode quiet long enough is over.</summary>
    public void Polled()
    {
        if (_tokenRefusedSince is { } since)
        {
            LogTokenAccepted((time.GetUtcNow() - since).TotalMinutes);
            _tokenRefusedSince = null;
        }
        EndQuietEpisode(time.GetUtcNow());
    }

    /// <summary>getUpdates answered 409. Returns the conflicts of this episode, for the backoff (a poll in between does not reset it).</summary>
    public async Task<int> ConflictAsync(ApiRequestException ex, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        EndQuietEpisode(now);
        _conflicts++;
        _lastConflict = now;
        if (ex.IsWebhookActive)
        {
            if (_webhookReported)
            {
                LogWebhookStillActive(ex.Description, _conflicts);
            }
            else
            {
                LogWebhookActive(ex.Description);
            }
            await DeleteWebhookAsync(cancellationToken).ConfigureAwait(false);
            if (!_webhookReported)
            {
                _webhookReported = true;
                await ReportAsync(WebhookNotice, cancellationToken).ConfigureAwait(false);
            }
            return _conflicts;
        }
        // Counted apart from webhook refusals: a webhook deleted just before does not make a second poller's first
        // conflict, which a restart can leave behind, its third.
        _pollerConflicts++;
        if (_pollerConflicts < ConflictsBeforeReport)
        {
            LogConflict(ex.Description);
        }
        else if (!_pollerReported)
        {
            _pollerReported = true;
            LogOtherPoller(_pollerConflicts, ex.Description);
            await ReportAsync(OtherPollerNotice, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            LogConflictGoesOn(_conflicts);
        }
        return _conflicts;
    }

    /// <summary>A start-up call or a poll answered 401/404: at Error the first time, then at Debug until a poll goes through.</summary>
    public void TokenRefused(ApiRequestException ex, string baseUrl)
    {
        if (_tokenRefusedSince is null)
        {
            _tokenRefusedSince = time.GetUtcNow();
            LogTokenRefused(ex.Method, ex.ErrorCode, ex.Description, baseUrl);
        }
        else
        {
            LogTokenStillRefused(ex.Method, ex.ErrorCode);
        }
    }

    private void EndQuietEpisode(DateTimeOffset now)
    {
        if (_conflicts == 0 || now - _lastConflict < ConflictQuiet)
        {
            return;
        }
        if (_webhookReported || _pollerReported)
        {
            LogConflictsOver(_conflicts);
        }
        _conflicts = 0;
        _pollerConflicts = 0;
        _webhookReported = false;
        _pollerReported = false;
    }

    private async Task DeleteWebhookAsync(CancellationToken cancellationToken)
    {
        try
        {
            await client.DeleteWebhook(dropPendingUpdates: false, cancellationToken).ConfigureAwait(false);
            LogWebhookDeleted();
        }
        catch (ApiRequestException ex)
        {
            LogWebhookNotDeleted(ex.ErrorCode, ex.Description);
        }
    }

    /// <summary>Tells the approvers (once per episode and cause: the callers' flags); a notice that cannot be sent is logged, not tried again (the Error above stands).</summary>
    private async Task ReportAsync(string notice, CancellationToken cancellationToken)
    {
        try
        {
            await chat.SendAsync(chatId => client.SendMessage(new SendMessageRequest { ChatId = chatId, Text = notice }, cancellationToken), cancellationToken)
                .ConfigureAwait(false);
        }
        catch (ApiRequestException ex)
        {
            LogNoticeFailed(ex.ErrorCode, ex.Description);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "getUpdates conflict: another instance is polling this bot or a webhook is set ({Description}); backing off")]
    private partial void LogConflict(string description);

    [LoggerMessage(Level = LogLevel.Error, EventName = "AnotherPollerForThisBot",
        Message = "getUpdates conflict {Conflicts} times in a row ({Description}): another program is polling this bot with the same token " +
        "(a second instance, a dev copy). Telegram gives each update to one of them only, so taps and commands that reach it are never seen here. " +
        "Stop it or give it a bot of its own. The approvers were told in the chat; polling goes on, backing off")]
    private partial void LogOtherPoller(int conflicts, string description);

    [LoggerMessage(Level = LogLevel.Debug, Message = "getUpdates conflict again ({Conflicts} in this episode); backing off")]
    private partial void LogConflictGoesOn(int conflicts);

    [LoggerMessage(Level = LogLevel.Information, Message = "No getUpdates conflict for 10 minutes after {Conflicts}; the other poller seems gone")]
    private partial void LogConflictsOver(int conflicts);

    [LoggerMessage(Level = LogLevel.Error, EventName = "WebhookSetForThisBot",
        Message = "getUpdates refused: a webhook is set for this bot ({Description}), so its updates went to that webhook and taps were not seen here. " +
        "Something else uses this bot's token in webhook mode; deleting the webhook, as at start, and telling the approvers in the chat")]
    private partial void LogWebhookActive(string description);

    [LoggerMessage(Level = LogLevel.Warning, Message = "getUpdates refused again: a webhook is set for this bot ({Description}; {Conflicts} conflicts in this episode); deleting it")]
    private partial void LogWebhookStillActive(string description, int conflicts);

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook deleted; polling again")]
    private partial void LogWebhookDeleted();

    [LoggerMessage(Level = LogLevel.Warning, Message = "deleteWebhook failed ({ErrorCode} {Description}); tried again at the next conflict")]
    private partial void LogWebhookNotDeleted(int errorCode, string description);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not tell the approvers about the getUpdates conflict ({ErrorCode} {Description})")]
    private partial void LogNoticeFailed(int errorCode, string description);

    [LoggerMessage(Level = LogLevel.Error, EventName = "BotTokenRefused",
        Message = "Telegram refuses the bot token: {Method} answered {ErrorCode} {Description}. The token was revoked in BotFather, belongs to a deleted bot " +
        "or is mistyped (or Telegram:ApiBaseUrl {ApiBaseUrl} is not a Bot API server). No card, escalation or reply reaches the chat and no tap is received " +
        "until ApprovalBot:Telegram:Token holds the bot's current token (BotFather: /token) and the service is restarted. Drafts are still stored; " +
        "their cards wait and go out then. Tried again, backing off to once a minute")]
    private partial void LogTokenRefused(string method, int errorCode, string description, string apiBaseUrl);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Telegram still refuses the bot token ({Method}: {ErrorCode})")]
    private partial void LogTokenStillRefused(string method, int errorCode);

    [LoggerMessage(Level = LogLevel.Information, Message = "Telegram takes the bot token again after {Minutes:0.#} min")]
    private partial void LogTokenAccepted(double minutes);
}
