using System.Globalization;
using ApprovalBot.Drafts;
using ApprovalBot.Hosting;
using ApprovalBot.Telegram.Api;
using ApprovalBot.Telegram.Commands;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Telegram.Updates;

/// <summary>
/// Receives updates by long polling. The offset lives in the store and moves past an update only after
/// its effects are committed, so a crash redelivers instead of losing, and handlers make a redelivery a
/// no-op. A malformed update is logged and skipped, and so is one whose update_id the offset cannot move past
/// (none, negative, long.MaxValue); a batch of nothing but those is followed by a backoff, since it would come straight
/// back. A store that cannot commit stops the batch, which is then polled again. 409 (another poller or a webhook) and a
/// refused token (401/404) are named once per episode at Error by <see cref="PollTrouble"/>; they and other failures are backed off.
/// </summary>
internal sealed partial class UpdatePoller(
    TelegramBotClient client, TelegramChat chat, DraftStore store, UpdateDispatcher dispatcher, CommandRouter commands,
    UpdateBacklog backlog, IOptions<TelegramOptions> options, TimeProvider time, ILogger<UpdatePoller> logger) : HostLoop
{
    public const string OffsetSetting = "telegram.offset";

    /// <summary>getUpdates' default limit: a batch this long may have more behind it.</summary>
    private const int FullBatch = 100;
    internal static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(60);
    private readonly TelegramOptions _options = options.Value;
    private readonly TaskCompletionSource _polling = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private PollTrouble? _troubleState;

    private PollTrouble Trouble => _troubleState ??= new PollTrouble(client, chat, time, logger);

    /// <summary>Completes when the first getUpdates is about to be sent (start-up calls done).</summary>
    public Task Polling => _polling.Task;

    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        try
        {
            await PrepareAsync(stoppingToken).ConfigureAwait(false);
            var offset = await ReadOffsetAsync(stoppingToken).ConfigureAwait(false);
            var failures = 0;
            var unconfirmable = 0;
            // Polls in a row whose update could not be committed (the store away): the backoff before polling it again grows.
            var uncommitted = 0;
            _polling.TrySetResult();
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    // Until the backlog is in, no long poll: an empty answer must come at once to say so.
                    var timeout = backlog.CaughtUp ? _options.PollTimeoutSeconds : 0;
                    var sentAt = time.GetUtcNow();
                    var updates = await client.GetUpdates(offset, timeout, UpdateDispatcher.AllowedUpdates, stoppingToken).ConfigureAwait(false);
                    failures = 0;
                    Trouble.Polled();
                    var polled = offset;
                    var committed = true;
                    // In id order: a batch out of it (100, 101, 50) would otherwise confirm 101 before 50 was handled, and
                    // a crash between them lose 50; taken in order, each offset stored confirms only what was handled.
                    var polledUpdates = updates.Select(PolledUpdate.Read).OrderBy(u => u.UpdateId).ToList();
                    await FollowMigrationsAsync(polledUpdates).ConfigureAwait(false);
                    foreach (var update in polledUpdates)
                    {
                        (committed, var confirmedBy) = await HandleAsync(update, stoppingToken).ConfigureAwait(false);
                        if (!committed)
                        {
                            // Poll the same offset again, after a backoff that grows while the store stays away, like every
                            // other wait on a failure here: a fixed one polled (and logged) at the same pace through an outage.
                            await BackoffAsync(++uncommitted, stoppingToken).ConfigureAwait(false);
                            break;
                        }
                        uncommitted = 0;
                        // Lower than the offset polled with only after Telegram chose the ids afresh (no updates for a
                        // week): those updates came with the old offset all the same, and kept, it would hand them over,
                        // to be handled again, at every poll.
                        if (confirmedBy is not { } next || next == offset)
                        {
                            continue;
                        }
                        offset = next;
                        await store.SetSettingAsync(OffsetSetting, next.ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false);
                    }
                    if (committed && updates.Count < FullBatch)
                    {
                        backlog.AllHandled(sentAt);
                        if (!backlog.CaughtUp)
                        {
                            backlog.MarkCaughtUp();
                            LogBacklogTakenIn();
                        }
                    }
                    // A batch of updates only skipped, none of which the offset could move past (no usable update_id):
                    // getUpdates would hand the same ones straight back, so the next poll waits rather than spins.
                    if (updates.Count > 0 && committed && offset == polled)
                    {
                        LogNothingToConfirm(updates.Count);
                        await BackoffAsync(++unconfirmable, stoppingToken).ConfigureAwait(false);
                    }
                    else
                    {
                        unconfirmable = 0;
                    }
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    return;
                }
                catch (ApiRequestException ex) when (ex.ErrorCode == 409)
                {
                    var conflicts = await Trouble.ConflictAsync(ex, stoppingToken).ConfigureAwait(false);
                    await BackoffAsync(conflicts, stoppingToken).ConfigureAwait(false);
                }
                catch (ApiRequestException ex) when (ex.IsTokenRefused)
                {
                    Trouble.TokenRefused(ex, client.BaseUrl);
                    await BackoffAsync(++failures, stoppingToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is ApiRequestException or StoreUnavailableException)
                {
                    LogPollFailed(ex);
                    await BackoffAsync(++failures, stoppingToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>deleteWebhook (getUpdates is refused while one is set), getMe, setMyCommands; retried until they succeed, but a refused menu.</summary>
    private async Task PrepareAsync(CancellationToken stoppingToken)
    {
        for (var failures = 1; ; failures++)
        {
            try
            {
                await client.DeleteWebhook(dropPendingUpdates: false, stoppingToken).ConfigureAwait(false);
                var me = await client.GetMe(stoppingToken).ConfigureAwait(false);
                chat.BotUsername = me.Username;
                chat.BotId = me.Id;
                await SetCommandMenuAsync(stoppingToken).ConfigureAwait(false);
                LogReady(me.Username ?? me.FirstName, chat.ChatId);
                return;
            }
            catch (ApiRequestException ex) when (ex.IsTokenRefused)
            {
                Trouble.TokenRefused(ex, client.BaseUrl);
                await BackoffAsync(failures, stoppingToken).ConfigureAwait(false);
            }
            catch (ApiRequestException ex)
            {
                LogPrepareFailed(ex.ErrorCode, ex.Description);
                await BackoffAsync(failures, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// The command menu is a convenience (typed commands work without it): a refusal of it, which retrying cannot mend
    /// (a 400 for a command Telegram no longer takes), must not keep the poller from ever fetching a tap. A refused token
    /// and a passing failure (5xx, 429, the network) go to the start-up's own retry, as before.
    /// </summary>
    private async Task SetCommandMenuAsync(CancellationToken stoppingToken)
    {
        try
        {
            await client.SetMyCommands([.. commands.Commands.Select(c => new BotCommand(c.Name, c.Description))], stoppingToken).ConfigureAwait(false);
        }
        catch (ApiRequestException ex) when (!ex.IsTokenRefused && !ex.IsTransient)
        {
            LogCommandMenuRefused(ex.ErrorCode, ex.Description);
        }
    }

    /// <summary>
    /// The stored offset, read again after a backoff while the store cannot be read. A value that is not a number
    /// stops the service with the way out: polling from a guessed offset could confirm (and so drop) updates never handled.
    /// </summary>
    private async Task<long?> ReadOffsetAsync(CancellationToken stoppingToken)
    {
        for (var failures = 1; ; failures++)
        {
            string? stored;
            try
            {
                stored = store.GetSetting(OffsetSetting);
            }
            catch (StoreUnavailableException ex)
            {
                LogOffsetUnreadable(ex);
                await BackoffAsync(failures, stoppingToken).ConfigureAwait(false);
                continue;
            }
            if (stored is null)
            {
                return null;
            }
            if (long.TryParse(stored, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var offset))
            {
                return offset;
            }
            throw new InvalidOperationException(
                $"The stored Telegram update offset (settings key '{OffsetSetting}') is not a number: '{(stored.Length <= 40 ? stored : stored[..40] + "…")}'. " +
                $"Delete that row (sqlite3 approvals.db \"DELETE FROM settings WHERE key = '{OffsetSetting}'\") to poll from the oldest update Telegram still keeps.");
        }
    }

    /// <summary>
    /// Follows an upgrade of the approvers' group to a supergroup that a service message anywhere in the batch names,
    /// before any update of the batch is handled. Telegram sends the bot's my_chat_member in the new supergroup (the bot
    /// "joined" it) in no set order with the two service messages: handled first, in the order given, it was about a chat
    /// that was not the approvers' yet, and was refused as a security event (membership_other_chat); a my_chat_member
    /// saying the bot left the old group was taken for the bot being shut out of the approvers' chat. The service messages
    /// are still handled in their turn (then nothing more happens); a store that cannot take the new id leaves it to them.
    /// </summary>
    private async Task FollowMigrationsAsync(IReadOnlyList<PolledUpdate> updates)
    {
        foreach (var update in updates)
        {
            if (update.Migration is not { } migration)
            {
                continue;
            }
            try
            {
                await chat.FollowMigrationAsync(migration.From, migration.To).ConfigureAwait(false);
            }
            catch (StoreUnavailableException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Handles <paramref name="polled"/>. Committed is false when its effects could not be committed (it must come again);
    /// ConfirmedBy is the offset that confirms it, null for an update skipped without an id the offset can move past.
    /// </summary>
    private async Task<(bool Committed, long? ConfirmedBy)> HandleAsync(PolledUpdate polled, CancellationToken stoppingToken)
    {
        if (polled.Malformed is { } reason)
        {
            if (polled.UpdateId is { } id)
            {
                LogMalformed(id, reason);
            }
            else
            {
                LogMalformedWithoutId(reason);
            }
            return (true, polled.ConfirmedBy);
        }
        if (polled.Update is not { } update)
        {
            return (true, polled.ConfirmedBy);
        }
        try
        {
            await dispatcher.HandleAsync(update, stoppingToken).ConfigureAwait(false);
            return (true, polled.ConfirmedBy);
        }
        catch (StoreUnavailableException ex)
        {
            // The tap could not be stored: do not confirm it; the same update comes back on the next poll, after the backoff.
            LogNotCommitted(ex, update.UpdateId);
            return (false, null);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            // Not the store being away: the writer answers a commit it could not make (the write lock held past
            // BusyTimeoutMs, disk full, read-only, I/O) with StoreUnavailableException, above. A SqliteException here
            // failed this update's own write (a constraint) and would fail again on every poll, holding up every later update.
            LogHandlerFailed(ex, update.UpdateId);
            return (true, polled.ConfirmedBy);
        }
    }

    /// <summary>
    /// The wait after a failure. While the backlog is not in, the failure is reported to it (past its window it is given
    /// up on), and the end of its window cuts the wait short: a poll then, not a minute later, finds a Telegram that came
    /// back inside the window, rather than letting expiry go ahead without the taps waiting there.
    /// </summary>
    private async Task BackoffAsync(int failures, CancellationToken stoppingToken)
    {
        var delay = TimeSpan.FromMilliseconds(Math.Min(MaxBackoff.TotalMilliseconds, _options.RetryBaseDelayMs * Math.Pow(2, Math.Min(failures, 16) - 1)));
        backlog.PollFailed();
        if (backlog.TakenIn || backlog.WindowEnded.IsCompleted)
        {
            await Task.Delay(delay, time, stoppingToken).ConfigureAwait(false);
            return;
        }
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var sleeping = Task.Delay(delay, time, wait.Token);
        if (await Task.WhenAny(sleeping, backlog.WindowEnded).ConfigureAwait(false) == sleeping)
        {
            await sleeping.ConfigureAwait(false);
            return;
        }
        await wait.CancelAsync().ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "The updates that waited while the service was down are handled")]
    private partial void LogBacklogTakenIn();

    [LoggerMessage(Level = LogLevel.Information, Message = "Telegram bot @{BotUsername} polling for updates; cards go to chat {ChatId}")]
    private partial void LogReady(string botUsername, long chatId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Telegram did not take the bot's command menu (setMyCommands: {ErrorCode} {Description}); polling anyway: the commands work when typed, without the menu")]
    private partial void LogCommandMenuRefused(int errorCode, string description);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Telegram start-up calls failed ({ErrorCode} {Description}); retrying")]
    private partial void LogPrepareFailed(int errorCode, string description);

    [LoggerMessage(Level = LogLevel.Warning, Message = "getUpdates failed; backing off")]
    private partial void LogPollFailed(Exception ex);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The stored update offset could not be read; retrying")]
    private partial void LogOffsetUnreadable(Exception ex);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Skipped malformed update {UpdateId}: {Reason}")]
    private partial void LogMalformed(long updateId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Skipped malformed update without an update_id: {Reason}")]
    private partial void LogMalformedWithoutId(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "None of the {Count} update(s) received could be confirmed; backing off before polling again")]
    private partial void LogNothingToConfirm(int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "Update {UpdateId} could not be committed; it will be delivered again")]
    private partial void LogNotCommitted(Exception ex, long updateId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling update {UpdateId} failed; skipped")]
    private partial void LogHandlerFailed(Exception ex, long updateId);
}
