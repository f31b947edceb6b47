using System.Text.Json.Nodes;
using System.Threading.Channels;
using ApprovalBot.Drafts;
using ApprovalBot.Hosting;
using ApprovalBot.Telegram.Api;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Telegram.Cards;

/// <summary>
/// Keeps a card telling the truth after the decision: when execution moves a draft on (executed, failed,
/// blocked, unknown, cancelled, expired, or back to approved for a retry), the card is edited to show it.
/// Decisions themselves are shown by the decision handler, in the order the issue asks for. An edit that
/// fails for a reason that can pass (Telegram down, the store briefly unavailable) is tried again with the
/// card outbox's backoff and attempt limit, so a card does not keep showing "Approved" after an outage; the
/// decision handler and the outbox hand their own failed edits here (<see cref="RetryEdit"/>) for the same retries.
/// Those retries live in memory; what survives a stop is the store's record of what each card on record shows
/// (card_shown_state, see <see cref="CardSender.ShowLatestAsync"/>). At start the cards that show an older state
/// than their draft's are read from the index that holds only them (<see cref="BehindSql"/>), a page at a time, and
/// followed up like a change, whenever no change of this run is waiting. The index is read again every
/// <c>CardRetryMaxDelaySeconds</c> while the service runs: an edit that used up its attempts in an outage longer than
/// its backoff (about 10 minutes by default) left the card showing an older state until the next start or change. It is
/// read at once when Telegram says the bot was let back into the chat (<see cref="ChatReadmission"/>): the edits the
/// chat refused meanwhile (403, never retried by the backoff) go then.
/// </summary>
internal sealed partial class CardFollowUps(
    DraftStore store, CardSender sender, CardRecords records, ChatReadmission readmission, IOptions<TelegramOptions> options, TimeProvider time, ILogger<CardFollowUps> logger)
    : HostLoop
{
    /// <summary>
    /// Cards on record behind their draft, after <c>$after</c> in id order: a search of the partial index
    /// drafts_card_behind (schema step 7), whose WHERE term this repeats so SQLite can use it. Never a scan of the drafts.
    /// </summary>
    internal const string BehindSql = "SELECT id FROM drafts WHERE (card_shown_state <> state OR card_shown_since <> state_since) AND id > $after ORDER BY id LIMIT $limit";

    private const int BehindPage = 100;

    private readonly Channel<FollowUp> _changed = Channel.CreateUnbounded<FollowUp>(new UnboundedChannelOptions { SingleReader = true });

    // Set when the bot was let back into the chat: the next look at the cards behind is due now.
    private readonly Channel<bool> _lookNow = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly TelegramOptions _options = options.Value;
    private CancellationToken _stopping;

    // Only the loop touches these: the page of cards left behind being worked through, and where the next page starts
    // (null once the index has been read to its end).
    private readonly Queue<string> _behind = new();
    private string? _behindAfter = "";
    private int _behindFound;
    private int _behindReadFailures;
    // Whether the reading under way is a later look (not the one at start), and when the next one is due.
    private bool _sweeping;
    private DateTimeOffset _nextSweep;

    /// <summary>
    /// An edit to make: of the draft's card on record, or of one given message (a tapped copy, a card that arrived late).
    /// <paramref name="LeftBehind"/>: found behind its draft in the store, at start (since an earlier run) or by a later look
    /// (<paramref name="Swept"/>: its edits failed in this run; the next look is its retry, not a backoff of its own).
    /// </summary>
    private sealed record FollowUp(string Id, int Attempt, long? ChatId = null, long? MessageId = null, bool LeftBehind = false, bool Swept = false);

    public static bool ShowsOnCard(DraftChange change) => change.To switch
    {
        DraftState.Executed or DraftState.Failed or DraftState.Blocked or DraftState.Unknown or DraftState.Cancelled or DraftState.Expired => true,
        DraftState.Approved => change.From is DraftState.Failed or DraftState.Unknown,
        _ => false,
    };

    /// <summary>A failed edit worth trying again: Telegram down or throttling, or the store briefly unavailable.</summary>
    public static bool CanPass(Exception ex) => ex is StoreUnavailableException || (ex is ApiRequestException api && api.IsTransient);

    /// <summary>
    /// Another component's edit of message <paramref name="messageId"/> (its first attempt) failed with <paramref name="failure"/>:
    /// if that can pass, the message is shown the draft's latest state again after the backoff, like an outcome's edit.
    /// </summary>
    public void RetryEdit(string draftId, long chatId, long messageId, Exception failure) =>
        RetryOrGiveUp(new FollowUp(draftId, 1, chatId, messageId), failure, _stopping);

    /// <summary>
    /// Records <paramref name="sent"/>, a card of <paramref name="sentAs"/> sent again, as its card in place of the old one
    /// (<see cref="CardRecords.RecordMovedAsync"/>) and catches it up (<see cref="CatchUpAsync"/>). The store unable to take
    /// the write is logged here (<see cref="MovedCard.Recorded"/> null): the card is in the chat and a tap on it decides (the
    /// tapped message then shows the decision), only the outcomes after that are not shown on it. When another card became
    /// the draft's card while this one was on its way, this one is a spare and is removed (<see cref="CardSender.RemoveSpareAsync"/>),
    /// so the chat does not hold an unrecorded card to tap.
    /// </summary>
    public async Task<MovedCard> RecordMovedAsync(
        Draft sentAs, long? oldChatId, long? oldMessageId, SentCard sent, string reason, CancellationToken cancellationToken, string? actor = null, JsonObject? details = null)
    {
        bool moved;
        try
        {
            moved = await records.RecordMovedAsync(sentAs, oldChatId, oldMessageId, sent, reason, actor, details).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is StoreUnavailableException or SqliteException)
        {
            LogMovedNotRecorded(ex, sentAs.Id, sent.MessageId);
            return new MovedCard(null);
        }
        if (!moved)
        {
            return new MovedCard(false, await sender.RemoveSpareAsync(sentAs.Id, sent, cancellationToken).ConfigureAwait(false));
        }
        await CatchUpAsync(sentAs, sent, cancellationToken).ConfigureAwait(false);
        return new MovedCard(true);
    }

    /// <summary>
    /// A card was just sent again (<paramref name="sent"/>, rendered from <paramref name="sentAs"/>) and became the card on
    /// record. If the draft changed while it was on the way (decided on another copy, cancelled, expired), the new card is
    /// shown the draft's latest state, so it offers no buttons for a draft that no longer awaits a decision. An edit that
    /// fails for a reason that can pass is retried here.
    /// </summary>
    private async Task CatchUpAsync(Draft sentAs, SentCard sent, CancellationToken cancellationToken)
    {
        try
        {
            if (store.Get(sentAs.Id) is not { } now || (now.State == sentAs.State && now.StateSince == sentAs.StateSince))
            {
                return;
            }
            await sender.ShowLatestAsync(sentAs.Id, sent.ChatId, sent.MessageId, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ApiRequestException or StoreUnavailableException)
        {
            RetryEdit(sentAs.Id, sent.ChatId, sent.MessageId, ex);
        }
    }

    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        _stopping = stoppingToken;
        store.Signals.Subscribe(change =>
        {
            if (ShowsOnCard(change))
            {
                _changed.Writer.TryWrite(new FollowUp(change.Id, 1));
            }
        });
        readmission.Subscribe(() => _lookNow.Writer.TryWrite(true));
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var followUp = await NextAsync(stoppingToken).ConfigureAwait(false);
                await FollowUpAsync(followUp, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // An exception out of ExecuteAsync stops the host, and what caused it (a card behind its draft) is met
                // again at the next start: one card must never take the pipe, the cards and the executor down with it.
                var delay = TimeSpan.FromSeconds(_options.CardRetryBaseDelaySeconds);
                LogLoopFailed(ex, delay.TotalSeconds);
                try
                {
                    await Task.Delay(delay, time, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    return;
                }
            }
        }
    }

    /// <summary>
    /// The next edit: a change of this run first, else a card left behind by an earlier one, else wait for a change.
    /// So a long backlog after an outage (Telegram paces edits to a group at 20 a minute) never holds up the card of
    /// a draft decided or executed now, and the backlog is never all in memory.
    /// </summary>
    private async Task<FollowUp> NextAsync(CancellationToken stoppingToken)
    {
        while (true)
        {
            if (_changed.Reader.TryRead(out var changed))
            {
                return changed;
            }
            if (_behind.Count == 0 && _behindAfter is not null)
            {
                await ReadBehindAsync(stoppingToken).ConfigureAwait(false);
            }
            if (_behind.TryDequeue(out var id))
            {
                return new FollowUp(id, 1, LeftBehind: true, Swept: _sweeping);
            }
            if (_behindAfter is null)
            {
                if (await NextChangeBeforeSweepAsync(stoppingToken).ConfigureAwait(false) is { } change)
                {
                    return change;
                }
                _behindAfter = "";
                _behindFound = 0;
                _sweeping = true;
            }
        }
    }

    /// <summary>
    /// The next change of this run, or null when it is time to look at the cards behind again first: the look is due, or
    /// the bot was let back into the chat.
    /// </summary>
    private async Task<FollowUp?> NextChangeBeforeSweepAsync(CancellationToken stoppingToken)
    {
        var wait = _nextSweep - time.GetUtcNow();
        if (wait <= TimeSpan.Zero || _lookNow.Reader.TryRead(out _))
        {
            return null;
        }
        using var due = new CancellationTokenSource(wait, time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, due.Token);
        var changed = _changed.Reader.WaitToReadAsync(either.Token).AsTask();
        var lookNow = _lookNow.Reader.WaitToReadAsync(either.Token).AsTask();
        await Task.WhenAny(changed, lookNow).ConfigureAwait(false);
        await either.CancelAsync().ConfigureAwait(false);
        stoppingToken.ThrowIfCancellationRequested();
        if (_changed.Reader.TryRead(out var change))
        {
            return change;
        }
        _lookNow.Reader.TryRead(out _);
        return null;
    }

    /// <summary>Reads the next page of cards left behind; the store unreadable, tries again after the card backoff.</summary>
    private async Task ReadBehindAsync(CancellationToken stoppingToken)
    {
        IReadOnlyList<string> page;
        try
        {
            page = store.Read(connection =>
            {
                using var cmd = connection.CreateCommand();
                cmd.CommandText = BehindSql;
                cmd.Parameters.AddWithValue("$after", _behindAfter);
                cmd.Parameters.AddWithValue("$limit", BehindPage);
                using var reader = cmd.ExecuteReader();
                var ids = new List<string>();
                while (reader.Read())
                {
                    ids.Add(reader.GetString(0));
                }
                return ids;
            });
        }
        catch (StoreUnavailableException ex)
        {
            var delay = _options.CardRetryDelay(++_behindReadFailures);
            LogBehindReadFailed(ex, delay.TotalSeconds);
            // A change of this run waiting meanwhile is not held up by more than the delay; it is taken first after it.
            await Task.Delay(delay, time, stoppingToken).ConfigureAwait(false);
            return;
        }
        _behindReadFailures = 0;
        foreach (var id in page)
        {
            _behind.Enqueue(id);
        }
        _behindFound += page.Count;
        _behindAfter = page.Count == BehindPage ? page[^1] : null;
        if (_behindAfter is not null)
        {
            return;
        }
        _nextSweep = time.GetUtcNow() + TimeSpan.FromSeconds(_options.CardRetryMaxDelaySeconds);
        if (_behindFound > 0)
        {
            if (_sweeping)
            {
                LogBehindStill(_behindFound);
            }
            else
            {
                LogBehindFound(_behindFound);
            }
        }
    }

    private async Task FollowUpAsync(FollowUp followUp, CancellationToken stoppingToken)
    {
        var (id, _, givenChat, givenMessage, leftBehind, _) = followUp;
        try
        {
            var draft = store.Get(id);
            if (draft is null)
            {
                return;
            }
            long chatId, messageId;
            if (givenChat is { } c && givenMessage is { } m)
            {
                (chatId, messageId) = (c, m);
            }
            else if (draft is { CardChatId: { } cardChat, CardMessageId: { } cardMessage })
            {
                (chatId, messageId) = (cardChat, cardMessage);
            }
            else
            {
                return;
            }
            // Shown meanwhile, or given up for this state (refused, failed), by the other of a change of this run and the look
            // at the cards behind that found the same draft, or by the decision handler while this waited for the card's lane:
            // a second edit would only repeat it, or the refusal and its log line. A given message (a tapped copy, another
            // component's failed edit) is edited all the same.
            if (await sender.ShowLatestAsync(id, chatId, messageId, stoppingToken, unlessShown: leftBehind || givenChat is null).ConfigureAwait(false))
            {
                LogFollowedUp(id, draft.State.ToWire());
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is ApiRequestException or StoreUnavailableException)
        {
            RetryOrGiveUp(followUp, ex, stoppingToken);
        }
        catch (Exception ex)
        {
            // The card itself fails (it cannot be rendered, or a bug): every try would fail the same way, so it gets no
            // retry. A failed edit of the card on record is recorded by the sender as left at its state
            // (card_edit_failed), which takes it out of the cards behind their draft, for every later look and start,
            // until the draft changes again.
            LogFollowUpFault(ex, id);
        }
    }

    /// <summary>After a failed attempt: the next one after the backoff if the failure can pass and attempts remain, else a warning.</summary>
    private void RetryOrGiveUp(FollowUp failed, Exception failure, CancellationToken stoppingToken)
    {
        if (CardSender.IsRefusalRecorded(failure))
        {
            // CardSender said it once, naming the card: recorded as card_edit_refused and not tried again until the draft
            // changes. "Shows an older state until the next look" would contradict that, with a stack trace besides.
            return;
        }
        if (failed.Swept && CanPass(failure))
        {
            LogSweptFollowUpFailed(failed.Id, _options.CardRetryMaxDelaySeconds, failure.Message);
            return;
        }
        if (!CanPass(failure) || failed.Attempt >= _options.CardMaxAttempts)
        {
            LogFollowUpGaveUp(failure, failed.Id, failed.Attempt, _options.CardRetryMaxDelaySeconds);
            return;
        }
        var delay = _options.CardRetryDelay(failed.Attempt);
        if (failure is ApiRequestException { ErrorCode: 429, RetryAfter: { } retryAfter } && TimeSpan.FromSeconds(retryAfter) > delay)
        {
            // Telegram said when: an earlier try would only be refused again (an edit handed over by the update poller).
            delay = TimeSpan.FromSeconds(retryAfter);
        }
        LogFollowUpRetry(failed.Id, failed.Attempt, delay.TotalSeconds, failure.Message);
        _ = RetryLaterAsync(failed with { Attempt = failed.Attempt + 1 }, delay, stoppingToken);
    }

    private async Task RetryLaterAsync(FollowUp followUp, TimeSpan delay, CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(delay, time, stoppingToken).ConfigureAwait(false);
            _changed.Writer.TryWrite(followUp);
        }
        catch (OperationCanceledException)
        {
            // Shutting down: the card keeps its last state until the draft changes again.
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The card of {DraftId} was sent again as message {MessageId}, but the store could not record it; " +
        "a tap on it still decides, later outcomes are not shown on it")]
    private partial void LogMovedNotRecorded(Exception ex, string draftId, long messageId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Card of {DraftId} now shows {State}")]
    private partial void LogFollowedUp(string draftId, string state);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not update the card of {DraftId} (attempt {Attempt}); trying again in {DelaySeconds} s: {Reason}")]
    private partial void LogFollowUpRetry(string draftId, int attempt, double delaySeconds, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not update the card of {DraftId} after {Attempt} attempt(s); it shows an older state until the draft changes again or the next look at cards behind their draft (within {SweepSeconds} s)")]
    private partial void LogFollowUpGaveUp(Exception ex, string draftId, int attempt, int sweepSeconds);

    [LoggerMessage(Level = LogLevel.Error, EventName = "CardFollowUpFault",
        Message = "Could not update the card of {DraftId}: an unexpected failure, not Telegram's answer; not tried again, the card keeps showing an older state " +
        "until its draft changes. The follow-ups go on with the next card")]
    private partial void LogFollowUpFault(Exception ex, string draftId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Card follow-ups failed unexpectedly; going on in {DelaySeconds} s")]
    private partial void LogLoopFailed(Exception ex, double delaySeconds);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Card of {DraftId} still not updated; next try within {SweepSeconds} s: {Reason}")]
    private partial void LogSweptFollowUpFailed(string draftId, int sweepSeconds, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Count} card(s) still showed an older state than their draft's (their edits had failed); each is being shown its draft's latest state")]
    private partial void LogBehindStill(int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Count} card(s) showed an older state than their draft's at start (an earlier run stopped before their edit was taken); each is being shown its draft's latest state")]
    private partial void LogBehindFound(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read which cards an earlier run left showing an older state; trying again in {DelaySeconds} s")]
    private partial void LogBehindReadFailed(Exception ex, double delaySeconds);
}

/// <summary>
/// How a card sent again was recorded: <paramref name="Recorded"/> whether it became the card on record (null: the store
/// could not take the write); <paramref name="Spare"/>, when another card became the draft's card first, what became of it.
/// </summary>
internal sealed record MovedCard(bool? Recorded, SpareCopy? Spare = null);
