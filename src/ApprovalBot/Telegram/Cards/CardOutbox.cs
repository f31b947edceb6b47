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
/// Owner of <c>pending</c>: gives every pending draft a card and moves it to <c>carded</c> with the message
/// id. Woken by the store's change signal; a sweep on an interval catches anything the signal could not
/// (drafts stored before start, retries that came due). A failure is recorded on the draft
/// (<c>card_attempts</c>, <c>card_error</c>, <c>card_next_at</c>) and retried with backoff; after
/// <see cref="TelegramOptions.CardMaxAttempts"/>, or at once for an error that retrying cannot fix (a refusal, or a
/// failure of the card itself, such as rendering), the draft keeps its <c>card_error</c> and no next attempt, for the
/// reconciler to report, and the next draft is taken: one draft's card never holds up another's. A refused bot token, or a
/// chat that refuses the bot (blocked, removed from the group), is nobody's card failure: it costs no attempt, the pass stops,
/// and one send is tried per sweep until one gets through, or at once when Telegram says the bot was let back into the chat
/// (<see cref="ChatReadmission"/>): then every card that waited on the chat is tried in that pass. A card that reached the chat
/// while the store could not record it is never sent again by this process: it is kept in memory and only the write
/// is retried, with backoff, until the store takes it (see <see cref="_unrecorded"/>). That is logged at Error once
/// per card, then, while any such card is left, at Warning once every <see cref="UnrecordedReminder"/> for all of them.
/// </summary>
internal sealed partial class CardOutbox(
    DraftStore store, CardSender sender, CardFollowUps followUps, TelegramChat chat, ChatReadmission readmission, IOptions<TelegramOptions> options,
    TimeProvider time, ILogger<CardOutbox> logger)
    : HostLoop
{
    private const int Batch = 50;
    private const string Actor = "telegram";

    /// <summary>
    /// How often the cards still unrecorded are brought up again, in one Warning for all of them. The store refusing
    /// writes lasts until someone acts (frees the disk, remounts it), and every other writer complains meanwhile too:
    /// the Error each card got when it happened says what is at stake, and an hourly line keeps it in view without
    /// a Warning for each retry of each card (the retries themselves are logged at Debug).
    /// </summary>
    internal static readonly TimeSpan UnrecordedReminder = TimeSpan.FromHours(1);

    private readonly TelegramOptions _options = options.Value;
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    // Cards in the chat whose sending the store could not record (disk full or read-only, a write refused). Their drafts
    // stay pending, and due, in the store, so they are left out of the pass and only the write is tried again, with
    // the card backoff, until the store takes it: sending again would put a new copy in the chat every interval. Only
    // the outbox's loop touches this. Lost with the process: after a restart the draft gets one more card.
    private readonly Dictionary<string, UnrecordedCard> _unrecorded = new(StringComparer.Ordinal);

    // When the cards in _unrecorded were last brought up at Warning; null while there are none.
    private DateTimeOffset? _remindedAt;

    // Since when Telegram refuses the bot token, or the chat refuses the bot, as the outbox last saw it; null while cards go out.
    private DateTimeOffset? _tokenRefusedSince;
    private DateTimeOffset? _chatRefusedSince;

    // The drafts whose card the chat refused, each put off to the next sweep (card_next_at): when Telegram says the bot is
    // back in the chat, they are taken in the next pass although not due. Only the loop touches this; lost with the
    // process, after which they wait out their card_next_at (one sweep at most).
    private readonly HashSet<string> _waitingOnChat = new(StringComparer.Ordinal);

    // Set (1) by a readmission, taken by the loop; and whether the loop is still working through _waitingOnChat.
    private int _letBackIn;
    private bool _catchingUp;

    /// <param name="Since">When the store first refused to record this card.</param>
    private sealed record UnrecordedCard(SentCard Sent, int Attempt, int Tries, DateTimeOffset NextAt, DateTimeOffset Since);

    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        store.Signals.Subscribe(change =>
        {
            if (change.To == DraftState.Pending)
            {
                _wake.Writer.TryWrite(true);
            }
        });
        readmission.Subscribe(() =>
        {
            Interlocked.Exchange(ref _letBackIn, 1);
            _wake.Writer.TryWrite(true);
        });
        while (!stoppingToken.IsCancellationRequested)
        {
            TimeSpan wait;
            try
            {
                await RecordUnrecordedAsync(stoppingToken).ConfigureAwait(false);
                _catchingUp |= Interlocked.Exchange(ref _letBackIn, 0) == 1;
                var due = Due();
                var refused = false;
                foreach (var draft in due)
                {
                    if (!await DeliverAsync(draft, stoppingToken).ConfigureAwait(false))
                    {
                        // Every other draft would be refused the same way: one call per sweep until one gets through.
                        refused = true;
                        break;
                    }
                    _waitingOnChat.Remove(draft.Id);
                }
                if (_catchingUp && !refused && due.Count < Batch)
                {
                    // Every card that waited on the chat was tried (the ids left are of drafts no longer pending).
                    _waitingOnChat.Clear();
                }
                // Refused again, or all tried: the next pass takes only what is due.
                _catchingUp &= !refused && due.Count == Batch;
                if (refused)
                {
                    wait = TimeSpan.FromSeconds(_options.CardSweepSeconds);
                }
                else if (due.Count == Batch)
                {
                    continue;
                }
                else
                {
                    wait = UntilNextRetry();
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // The store is unavailable or something unexpected failed: the drafts stay pending and are tried again.
                LogOutboxFailed(ex);
                wait = TimeSpan.FromSeconds(_options.CardRetryBaseDelaySeconds);
            }
            await WaitAsync(wait, stoppingToken).ConfigureAwait(false);
        }
    }

    private IReadOnlyList<Draft> Due()
    {
        var now = DraftColumns.ToUnixMs(time.GetUtcNow());
        return store.Read(connection =>
        {
            using var cmd = connection.CreateCommand();
            // New drafts (never attempted) and retries that came due; a draft given up on has attempts but no next time.
            // Catching up after the bot was let back into the chat, also those the chat refused, though not due yet.
            cmd.CommandText = DraftColumns.Select +
                " WHERE state = 'pending' AND ((card_attempts = 0 AND card_next_at IS NULL) OR card_next_at <= $now" + WaitingOnChat(cmd) + ")" +
                NotUnrecorded(cmd) + " ORDER BY seq LIMIT $limit";
            cmd.Parameters.AddWithValue("$now", now);
            cmd.Parameters.AddWithValue("$limit", Batch);
            using var reader = cmd.ExecuteReader();
            var drafts = new List<Draft>();
            while (reader.Read())
            {
                drafts.Add(DraftColumns.Read(reader));
            }
            return drafts;
        });
    }

    /// <summary>While catching up after a readmission: a condition taking in the drafts whose card waits on the chat.</summary>
    private string WaitingOnChat(SqliteCommand cmd)
    {
        if (!_catchingUp || _waitingOnChat.Count == 0)
        {
            return "";
        }
        cmd.Parameters.AddWithValue("$waiting", new JsonArray([.. _waitingOnChat.Select(id => JsonValue.Create(id))]).ToJsonString());
        return " OR id IN (SELECT value FROM json_each($waiting))";
    }

    /// <summary>
    /// A condition leaving out the drafts whose card is in the chat but unrecorded: their card_next_at (of an earlier failed
    /// attempt) may be long past, and they must neither be sent again nor make the loop wake at once, again and again.
    /// </summary>
    private string NotUnrecorded(SqliteCommand cmd)
    {
        if (_unrecorded.Count == 0)
        {
            return "";
        }
        cmd.Parameters.AddWithValue("$unrecorded", new JsonArray([.. _unrecorded.Keys.Select(id => JsonValue.Create(id))]).ToJsonString());
        return " AND id NOT IN (SELECT value FROM json_each($unrecorded))";
    }

    private TimeSpan UntilNextRetry()
    {
        var sweep = TimeSpan.FromSeconds(_options.CardSweepSeconds);
        var next = store.Read(connection =>
        {
            using var cmd = connection.CreateCommand();
            cmd.CommandText = "SELECT MIN(card_next_at) FROM drafts WHERE state = 'pending' AND card_next_at IS NOT NULL" + NotUnrecorded(cmd);
            return cmd.ExecuteScalar() is long ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : (DateTimeOffset?)null;
        });
        foreach (var card in _unrecorded.Values)
        {
            next = next is null || card.NextAt < next ? card.NextAt : next;
        }
        if (next is null)
        {
            return sweep;
        }
        var until = next.Value - time.GetUtcNow();
        return until < TimeSpan.Zero ? TimeSpan.Zero : until < sweep ? until : sweep;
    }

    private async Task WaitAsync(TimeSpan wait, CancellationToken stoppingToken)
    {
        if (wait <= TimeSpan.Zero)
        {
            return;
        }
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var delay = Task.Delay(wait, time, timer.Token);
        var woken = _wake.Reader.WaitToReadAsync(timer.Token).AsTask();
        await Task.WhenAny(delay, woken).ConfigureAwait(false);
        await timer.CancelAsync().ConfigureAwait(false);
        _wake.Reader.TryRead(out _);
    }

    /// <summary>
    /// Sends <paramref name="draft"/>'s card and records the outcome; false when Telegram refuses the bot token or the chat
    /// refuses the bot (the pass stops).
    /// </summary>
    private async Task<bool> DeliverAsync(Draft draft, CancellationToken stoppingToken)
    {
        var attempt = draft.CardAttempts + 1;
        try
        {
            SentCard sent;
            try
            {
                sent = await sender.SendAsync(draft, stoppingToken).ConfigureAwait(false);
            }
            catch (ApiRequestException ex) when (ex.IsTokenRefused || ex.IsChatRefused)
            {
                await RecordRefusedForEveryCardAsync(draft, ex).ConfigureAwait(false);
                return false;
            }
            catch (ApiRequestException ex)
            {
                await RecordFailureAsync(draft, attempt, ex, stoppingToken).ConfigureAwait(false);
                return true;
            }
            if (_tokenRefusedSince is { } since)
            {
                LogTokenWorksAgain((time.GetUtcNow() - since).TotalMinutes);
                _tokenRefusedSince = null;
            }
            if (_chatRefusedSince is { } chatSince)
            {
                LogChatTakesCardsAgain(sent.ChatId, (time.GetUtcNow() - chatSince).TotalMinutes);
                _chatRefusedSince = null;
                if (!_catchingUp)
                {
                    // Back without a word from Telegram (group rights restored): the rest go at their time, and the ids of
                    // drafts cancelled or expired meanwhile would otherwise stay until the next readmission.
                    _waitingOnChat.Clear();
                }
            }
            await RecordSentAsync(draft.Id, sent, attempt, unrecorded: null, stoppingToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (CardSender.IsCardFault(ex, stoppingToken))
        {
            // Left to the pass, this draft would fail first in every pass, after the same wait, and no later draft would
            // ever get a card, with nothing on the draft for the reconciler to report. The store failing still goes to
            // the pass, which waits and tries every due draft again: that is not this draft's fault.
            await RecordFaultAsync(draft, attempt, ex).ConfigureAwait(false);
        }
        return true;
    }

    /// <summary>
    /// Telegram refuses the bot token (revoked, mistyped), or the chat refuses the bot (the user blocked it, it was removed
    /// from the group, a wrong chat id): not this card's failure, so it costs no attempt and is never given up. The draft
    /// shows why it waits (<c>card_error</c>) and is tried again after <see cref="TelegramOptions.CardSweepSeconds"/>; the
    /// drafts after it are not tried in this pass. A refused token is named at Error by the poller (every call meets it),
    /// so here it is a Warning once; a refused chat only the cards meet, so here it is the Error, once per episode.
    /// </summary>
    private async Task RecordRefusedForEveryCardAsync(Draft draft, ApiRequestException ex)
    {
        var token = ex.IsTokenRefused;
        var chatId = chat.ChatId;
        var why = token
            ? "Telegram refuses the bot token; the card waits for a working token"
            : $"chat {chatId} refuses the bot; the card waits until the bot may post there again";
        await store.TransitionAsync(new Transition(draft.Id, [DraftState.Pending], DraftState.Pending, "card_failed", Actor)
        {
            Set = new Dictionary<string, object?>
            {
                ["card_next_at"] = time.GetUtcNow() + TimeSpan.FromSeconds(_options.CardSweepSeconds),
                ["card_error"] = $"{ex.ErrorCode} {ex.Description} ({why})",
            },
            Details = new JsonObject
            {
                ["attempt"] = draft.CardAttempts + 1, ["error_code"] = ex.ErrorCode, ["description"] = ex.Description, ["gave_up"] = false,
                [token ? "token_refused" : "chat_refused"] = true,
            },
        }).ConfigureAwait(false);
        if (token)
        {
            if (_tokenRefusedSince is null)
            {
                _tokenRefusedSince = time.GetUtcNow();
                LogCardsWaitForToken(draft.Id, ex.ErrorCode, ex.Description, _options.CardSweepSeconds);
            }
            return;
        }
        _waitingOnChat.Add(draft.Id);
        if (_chatRefusedSince is null)
        {
            _chatRefusedSince = time.GetUtcNow();
            LogCardsWaitForChat(chatId, ex.ErrorCode, ex.Description, draft.Id, _options.CardSweepSeconds);
        }
    }

    /// <summary>Tries again, once each is due, to record the cards the store could not take when they were sent.</summary>
    private async Task RecordUnrecordedAsync(CancellationToken stoppingToken)
    {
        var now = time.GetUtcNow();
        foreach (var (id, card) in _unrecorded.Where(u => u.Value.NextAt <= now).ToList())
        {
            await RecordSentAsync(id, card.Sent, card.Attempt, card, stoppingToken).ConfigureAwait(false);
        }
        RemindUnrecorded();
    }

    /// <summary>Brings the cards still unrecorded up at Warning, all in one line, once every <see cref="UnrecordedReminder"/>.</summary>
    private void RemindUnrecorded()
    {
        if (_unrecorded.Count == 0)
        {
            _remindedAt = null;
            return;
        }
        var now = time.GetUtcNow();
        var (oldestId, oldest) = _unrecorded.MinBy(u => u.Value.Since);
        if (now - (_remindedAt ?? oldest.Since) < UnrecordedReminder)
        {
            return;
        }
        _remindedAt = now;
        var nextTry = _unrecorded.Values.Min(c => c.NextAt) - now;
        LogCardsStillNotRecorded(_unrecorded.Count, oldestId, oldest.Sent.MessageId, (now - oldest.Since).TotalMinutes, oldest.Tries,
            Math.Max(0, nextTry.TotalSeconds));
    }

    /// <summary>
    /// Records a card that reached the chat (pending → carded). If the store cannot take the write, the card is kept
    /// in <see cref="_unrecorded"/> for the write alone to be tried again: it is never sent again meanwhile.
    /// <paramref name="unrecorded"/>: this card's entry there, when this is a retry of the write.
    /// </summary>
    private async Task RecordSentAsync(string id, SentCard sent, int attempt, UnrecordedCard? unrecorded, CancellationToken stoppingToken)
    {
        TransitionResult result;
        Draft? closed = null;
        try
        {
            result = await store.TransitionAsync(new Transition(id, [DraftState.Pending], DraftState.Carded, "card_sent", Actor)
            {
                Set = new Dictionary<string, object?>
                {
                    ["card_chat_id"] = sent.ChatId,
                    ["card_message_id"] = sent.MessageId,
                    ["card_shown_state"] = DraftState.Carded.ToWire(),
                    ["card_attempts"] = attempt,
                    ["card_next_at"] = null,
                    ["card_error"] = null,
                },
                Details = new JsonObject { ["chat_id"] = sent.ChatId, ["message_id"] = sent.MessageId, ["document_message_id"] = sent.DocumentMessageId, ["attempt"] = attempt },
            }).ConfigureAwait(false);
            // Decided (or cancelled) while the card was on its way: the approver tapped this card before its send was
            // recorded, or tapped an earlier copy whose answer was lost. This card must not offer buttons for a closed
            // draft, and if the draft has no card on record yet this one becomes it, so the outcome (executed, failed,
            // ...) is shown on it later instead of leaving it at "Approved" forever.
            if (!result.Applied && result.Draft is { } now && !DraftStateMachine.AwaitsDecision(now.State))
            {
                await store.WriteAsync(ctx => RecordLateCard(ctx, id, sent, attempt, now.State)).ConfigureAwait(false);
                closed = now;
            }
        }
        catch (Exception ex) when (ex is StoreUnavailableException or SqliteException)
        {
            var now = time.GetUtcNow();
            var tries = (unrecorded?.Tries ?? 0) + 1;
            var delay = _options.CardRetryDelay(tries);
            _unrecorded[id] = new UnrecordedCard(sent, attempt, tries, now + delay, unrecorded?.Since ?? now);
            if (unrecorded is null)
            {
                LogCardNotRecorded(ex, id, sent.ChatId, sent.MessageId, attempt, delay.TotalSeconds);
            }
            else
            {
                LogCardStillNotRecorded(id, sent.MessageId, tries, delay.TotalSeconds, ex.Message);
            }
            return;
        }
        if (_unrecorded.Remove(id, out var waited) && result.Applied)
        {
            LogCardRecordedLate(id, sent.ChatId, sent.MessageId, waited.Tries + 1, (time.GetUtcNow() - waited.Since).TotalMinutes);
        }
        if (result.Applied)
        {
            LogCardSent(id, sent.ChatId, sent.MessageId, attempt);
            return;
        }
        if (closed is not null)
        {
            LogCardClosedOnArrival(id, closed.State.ToWire());
            try
            {
                await sender.ShowLatestAsync(id, sent.ChatId, sent.MessageId, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ApiRequestException or StoreUnavailableException)
            {
                // A refusal for good was said by the sender, naming the card.
                if (!CardSender.IsRefusalRecorded(ex))
                {
                    LogCardEditFailed(ex, id);
                }
                followUps.RetryEdit(id, sent.ChatId, sent.MessageId, ex);
            }
        }
    }

    private static bool RecordLateCard(WriteContext ctx, string id, SentCard sent, int attempt, DraftState arrivedAfter)
    {
        var recorded = ctx.Execute(
            // The card arrived with buttons: recorded as showing them, it stays behind its draft until the edit that
            // closes it is taken, also across a stop before that edit.
            "UPDATE drafts SET card_chat_id = $chat, card_message_id = $message, card_shown_state = $shown, card_attempts = $attempt, " +
            "card_next_at = NULL, card_error = NULL, updated_at = $now WHERE id = $id AND card_message_id IS NULL",
            ("$chat", sent.ChatId), ("$message", sent.MessageId), ("$shown", DraftState.Pending.ToWire()), ("$attempt", attempt), ("$now", ctx.NowMs), ("$id", id)) == 1;
        if (recorded)
        {
            var details = new JsonObject
            {
                ["chat_id"] = sent.ChatId, ["message_id"] = sent.MessageId, ["document_message_id"] = sent.DocumentMessageId, ["attempt"] = attempt, ["arrived_after"] = arrivedAfter.ToWire(),
            };
            ctx.AppendEvent(id, "card_sent", Actor, details.ToJsonString());
        }
        return recorded;
    }

    /// <summary>
    /// How many sends whose answer could not be read (<see cref="ApiRequestException.OutcomeUnknown"/>) the outbox makes for one
    /// card before it stops sending: Telegram carried each out, so each most likely put a copy in the chat (of the card, or of a
    /// long draft's file), and a proxy that mangles one answer mostly mangles the next. One more send after the first such answer
    /// still gets a readable one through a passing fault; after the second, sending on would only add copies.
    /// </summary>
    internal const int MaxUnreadableSends = 2;

    /// <summary>
    /// Records a failed attempt: tried again after the card backoff while the failure can pass, else given up. A send whose
    /// answer could not be read most likely put the card in the chat, but without its message id it cannot be recorded, edited
    /// or followed: it counts as a failed attempt and the card is sent once more after the backoff (not at once, and never by
    /// the client), so the chat may hold two copies; a tap on either decides once, and the tapped one shows the decision, as
    /// for any card that arrived twice. After <see cref="MaxUnreadableSends"/> such answers, or when the card is given up after
    /// one, it is not sent again: the draft is recorded as carded without a message on record (<see cref="CardRecords.UnconfirmedEvent"/>),
    /// since a copy is most likely in the chat (<see cref="RecordUnconfirmedAsync"/>). When only a long draft's file got an
    /// unreadable answer (<c>sendDocument</c>, before the card), the card itself was never sent: its error says so, and a
    /// card given up then is <c>card_undelivered</c>.
    /// </summary>
    private async Task RecordFailureAsync(Draft draft, int attempt, ApiRequestException ex, CancellationToken stoppingToken)
    {
        var file = ex.IsDocumentSend;
        var giveUp = !ex.IsTransient || attempt >= _options.CardMaxAttempts;
        var unreadable = ex.OutcomeUnknown || giveUp ? UnreadableSends(draft.Id) : default;
        if (ex.OutcomeUnknown)
        {
            unreadable = file ? unreadable with { Files = unreadable.Files + 1 } : unreadable with { Cards = unreadable.Cards + 1 };
        }
        var stopped = ex.OutcomeUnknown && unreadable.Total >= MaxUnreadableSends;
        giveUp |= stopped;
        if (giveUp && unreadable.Cards > 0)
        {
            await RecordUnconfirmedAsync(draft, attempt, ex, unreadable).ConfigureAwait(false);
            return;
        }
        var delay = _options.CardRetryDelay(attempt);
        DateTimeOffset? next = giveUp ? null : time.GetUtcNow() + delay;
        var error = ex.Reason + (ex.OutcomeUnknown ? file ? FileMayBeInTheChat : MayBeInTheChat : "") +
            (stopped ? FilesStopped(unreadable.Files) : "") + (giveUp ? GaveUp(attempt) : "");
        var details = new JsonObject { ["attempt"] = attempt, ["error_code"] = ex.ErrorCode, ["description"] = ex.Description, ["gave_up"] = giveUp };
        if (ex.OutcomeUnknown)
        {
            details["outcome_unknown"] = true;
            details["method"] = ex.Method;
        }
        await store.TransitionAsync(new Transition(draft.Id, [DraftState.Pending], DraftState.Pending, "card_failed", Actor)
        {
            Set = new Dictionary<string, object?> { ["card_attempts"] = attempt, ["card_next_at"] = next, ["card_error"] = error },
            Details = details,
        }).ConfigureAwait(false);
        if (giveUp)
        {
            LogCardGaveUp(draft.Id, attempt, error);
        }
        else if (ex.OutcomeUnknown && file)
        {
            LogFileOutcomeUnknown(draft.Id, attempt, ex.Description, delay.TotalSeconds);
        }
        else if (ex.OutcomeUnknown)
        {
            LogCardOutcomeUnknown(draft.Id, attempt, ex.Description, delay.TotalSeconds);
        }
        else
        {
            LogCardRetry(draft.Id, attempt, error, delay.TotalSeconds);
        }
    }

    private const string MayBeInTheChat = " (the card may be in the chat: the send reached Telegram but its answer was lost or could not be read)";

    private const string FileMayBeInTheChat =
        " (the card's text file may be in the chat: it reached Telegram but its answer was lost or could not be read; the card itself, with its buttons, was not sent)";

    private static string FilesStopped(int files) =>
        $"; not sent again: its file was sent {files} times with an answer that could not be read, each most likely posting a copy of it";

    /// <summary>Sends of the card (<c>sendMessage</c>) and of its file (<c>sendDocument</c>) answered unreadably so far.</summary>
    private readonly record struct UnreadableCount(int Cards, int Files)
    {
        public int Total => Cards + Files;
    }

    /// <summary>
    /// The draft's sends answered unreadably since an approver last queued its card again (Retry: a new ask), from the ledger
    /// (its <c>card_failed</c> events with <c>outcome_unknown</c>; one without <c>method</c>, of an earlier build, was the card's).
    /// A search of the draft's own events.
    /// </summary>
    private UnreadableCount UnreadableSends(string draftId) => store.Read(connection =>
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText =
            "SELECT COALESCE(json_extract(details, '$.method'), 'sendMessage'), COUNT(*) FROM events WHERE draft_id = $id AND type = 'card_failed' " +
            "AND json_extract(details, '$.outcome_unknown') = 1 " +
            "AND id > COALESCE((SELECT MAX(id) FROM events WHERE draft_id = $id AND type = 'card_retry_requested'), 0) GROUP BY 1";
        cmd.Parameters.AddWithValue("$id", draftId);
        using var reader = cmd.ExecuteReader();
        var count = new UnreadableCount();
        while (reader.Read())
        {
            count = reader.GetString(0) == TelegramBotClient.SendDocumentMethod
                ? count with { Files = count.Files + reader.GetInt32(1) }
                : count with { Cards = count.Cards + reader.GetInt32(1) };
        }
        return count;
    });

    /// <summary>
    /// The card was sent with an answer that could not be read, and is given up now (a second such answer, or the attempts
    /// spent): a copy is most likely in the chat, whose message id nobody knows. The draft goes to <c>carded</c> with no
    /// message on record and a <c>card_error</c> that says so (<see cref="CardRecords.UnconfirmedEvent"/>): not sent again, not
    /// <c>card_undelivered</c>. A tap on a copy decides once and makes it the card on record; the reconciler reports it as
    /// <c>card_unconfirmed</c> with Resend card, which sends one that is recorded. A draft no longer pending (a tap on a copy
    /// decided it meanwhile) is left as it is.
    /// </summary>
    private async Task RecordUnconfirmedAsync(Draft draft, int attempt, ApiRequestException ex, UnreadableCount unreadable)
    {
        var chatId = chat.ChatId;
        var copies = unreadable.Cards == 1 ? "once" : $"{unreadable.Cards} times";
        var error = $"{ex.Reason}: the card is most likely in chat {chatId} (sent {copies} with an answer that " +
            $"could not be read{(unreadable.Files > 0 ? $"; its file {unreadable.Files} time(s) so" : "")}), but has no message on record; not sent again " +
            $"(after {attempt} attempt{(attempt == 1 ? "" : "s")}). A tap on a copy decides once; Resend card (/card) sends one that is recorded";
        var result = await store.TransitionAsync(new Transition(draft.Id, [DraftState.Pending], DraftState.Carded, CardRecords.UnconfirmedEvent, Actor)
        {
            Set = new Dictionary<string, object?>
            {
                ["card_chat_id"] = chatId, ["card_message_id"] = null, ["card_shown_state"] = null, ["card_attempts"] = attempt, ["card_next_at"] = null,
                ["card_error"] = error,
            },
            Details = new JsonObject
            {
                ["chat_id"] = chatId, ["attempt"] = attempt, ["error_code"] = ex.ErrorCode, ["description"] = ex.Description, ["method"] = ex.Method,
                ["outcome_unknown"] = ex.OutcomeUnknown, ["unreadable_card_sends"] = unreadable.Cards, ["unreadable_file_sends"] = unreadable.Files,
            },
        }).ConfigureAwait(false);
        if (result.Applied)
        {
            LogCardUnconfirmed(draft.Id, chatId, unreadable.Cards, attempt, ex.Description);
        }
    }

    /// <summary>
    /// Records an unexpected failure of <paramref name="draft"/>'s card (see <see cref="CardSender.IsCardFault"/>) as a give-up, like a
    /// card Telegram refused for good: no next attempt, so the reconciler reports it (<c>card_undelivered</c>) and the
    /// approver's Retry queues it again (e.g. after an update that fixes the fault). Waiting cannot fix such a failure,
    /// and trying it again in every pass would only repeat it. A draft no longer pending (the failure came after its card
    /// was recorded) is left as it is: the compare-and-set applies to a pending draft only.
    /// </summary>
    private async Task RecordFaultAsync(Draft draft, int attempt, Exception ex)
    {
        var error = $"could not render or send the card: {ex.GetType().Name}: {ex.Message}{GaveUp(attempt)}";
        var result = await store.TransitionAsync(new Transition(draft.Id, [DraftState.Pending], DraftState.Pending, "card_failed", Actor)
        {
            Set = new Dictionary<string, object?> { ["card_attempts"] = attempt, ["card_next_at"] = null, ["card_error"] = error },
            Details = new JsonObject { ["attempt"] = attempt, ["exception"] = ex.GetType().FullName, ["description"] = ex.Message, ["gave_up"] = true },
        }).ConfigureAwait(false);
        if (result.Applied)
        {
            LogCardFault(ex, draft.Id, attempt, error);
        }
        else
        {
            LogCardFaultAfterPending(ex, draft.Id, result.Draft?.State.ToWire() ?? "gone");
        }
    }

    private static string GaveUp(int attempt) => $" (gave up after {attempt} attempt{(attempt == 1 ? "" : "s")})";

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cards wait: Telegram refuses the bot token ({ErrorCode} {Description}, card of {DraftId}); " +
        "no card is given up for it, one is tried again every {SweepSeconds} s")]
    private partial void LogCardsWaitForToken(string draftId, int errorCode, string description, int sweepSeconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Telegram takes the bot token again after {Minutes:0.#} min; the cards that waited go out")]
    private partial void LogTokenWorksAgain(double minutes);

    [LoggerMessage(Level = LogLevel.Error, EventName = "ChatRefusesBot",
        Message = "Telegram does not let the bot post in chat {ChatId}: {ErrorCode} {Description} (card of {DraftId}). Unblock the bot, add it back to " +
        "the group with the right to post, or set ApprovalBot:Telegram:ChatId to the right chat and restart. No card is given up for it: one is " +
        "tried again every {SweepSeconds} s, or at once when Telegram says the bot is back, and the cards that waited go out by themselves once one gets through")]
    private partial void LogCardsWaitForChat(long chatId, int errorCode, string description, string draftId, int sweepSeconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Chat {ChatId} takes the bot's cards again after {Minutes:0.#} min; the cards that waited go out")]
    private partial void LogChatTakesCardsAgain(long chatId, double minutes);

    [LoggerMessage(Level = LogLevel.Information, Message = "Card for {DraftId} sent to chat {ChatId} as message {MessageId} (attempt {Attempt})")]
    private partial void LogCardSent(string draftId, long chatId, long messageId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Card for {DraftId} failed (attempt {Attempt}): {CardError}; retrying in {DelaySeconds} s")]
    private partial void LogCardRetry(string draftId, int attempt, string cardError, double delaySeconds);

    [LoggerMessage(Level = LogLevel.Warning, EventName = "CardOutcomeUnknown",
        Message = "Card for {DraftId} may be in the chat already (attempt {Attempt}): the send reached Telegram but its answer was lost or could not be read ({Description}), " +
        "so the card is not recorded; it is sent once more in {DelaySeconds} s. If the first one did arrive, the chat shows two copies: a tap on either decides once. " +
        "Should that answer be lost or unreadable too, it is not sent again (CardUnconfirmed)")]
    private partial void LogCardOutcomeUnknown(string draftId, int attempt, string description, double delaySeconds);

    [LoggerMessage(Level = LogLevel.Warning, EventName = "CardFileOutcomeUnknown",
        Message = "The text file of the card for {DraftId} may be in the chat (attempt {Attempt}): it reached Telegram but its answer was lost or could not be read ({Description}); " +
        "the card itself was not sent. File and card are sent once more in {DelaySeconds} s, so the chat may show the file twice")]
    private partial void LogFileOutcomeUnknown(string draftId, int attempt, string description, double delaySeconds);

    [LoggerMessage(Level = LogLevel.Warning, EventName = "CardUnconfirmed",
        Message = "Card for {DraftId} is most likely in chat {ChatId} ({Copies} send(s) of it taken by Telegram with an answer that could not be read, last: " +
        "{Description}; {Attempt} attempt(s)), with no message on record: recorded as carded, unconfirmed (card_unconfirmed), and not sent again. " +
        "A tap on a copy decides once; /orphans lists it with Resend card, as /card <id> does")]
    private partial void LogCardUnconfirmed(string draftId, long chatId, int copies, int attempt, string description);

    [LoggerMessage(Level = LogLevel.Error, Message = "Card for {DraftId} could not be delivered after {Attempt} attempts: {CardError}; left for the reconciler")]
    private partial void LogCardGaveUp(string draftId, int attempt, string cardError);

    [LoggerMessage(Level = LogLevel.Error, EventName = "CardFault",
        Message = "Card for {DraftId} failed unexpectedly (attempt {Attempt}): {CardError}; not tried again, left for the reconciler. " +
        "The outbox goes on with the next draft")]
    private partial void LogCardFault(Exception ex, string draftId, int attempt, string cardError);

    [LoggerMessage(Level = LogLevel.Error,
        Message = "Card for {DraftId} failed unexpectedly once the draft was no longer pending (now {State}); nothing recorded on the draft. " +
        "The outbox goes on with the next draft")]
    private partial void LogCardFaultAfterPending(Exception ex, string draftId, string state);

    [LoggerMessage(Level = LogLevel.Information, Message = "Draft {DraftId} was {State} before its card arrived; closing the card")]
    private partial void LogCardClosedOnArrival(string draftId, string state);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not edit the card of {DraftId}")]
    private partial void LogCardEditFailed(Exception ex, string draftId);

    [LoggerMessage(Level = LogLevel.Error, EventName = "CardNotRecorded",
        Message = "Card for {DraftId} was sent to chat {ChatId} as message {MessageId} (attempt {Attempt}) but the store could not record it; " +
        "it is not sent again, only the write is retried, with backoff (next in {DelaySeconds} s; a reminder at Warning every hour while it lasts). " +
        "If the service stops first, the draft gets a second card after the restart")]
    private partial void LogCardNotRecorded(Exception ex, string draftId, long chatId, long messageId, int attempt, double delaySeconds);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Card message {MessageId} of {DraftId} still not recorded ({Tries} tries); next try in {DelaySeconds} s: {Reason}")]
    private partial void LogCardStillNotRecorded(string draftId, long messageId, int tries, double delaySeconds, string reason);

    [LoggerMessage(Level = LogLevel.Warning, EventName = "CardsStillNotRecorded",
        Message = "{Count} card(s) in the chat are still not recorded in the store; the oldest, message {MessageId} of {DraftId}, for {Minutes:0} min " +
        "({Tries} tries). Their writes are still retried, with backoff (next in {DelaySeconds:0} s); they are not sent again. " +
        "If the service stops first, each of these drafts gets a second card after the restart")]
    private partial void LogCardsStillNotRecorded(int count, string draftId, long messageId, double minutes, int tries, double delaySeconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Card message {MessageId} in chat {ChatId} of {DraftId} recorded after {Tries} tries ({Minutes:0.#} min)")]
    private partial void LogCardRecordedLate(string draftId, long chatId, long messageId, int tries, double minutes);

    [LoggerMessage(Level = LogLevel.Error, Message = "Card outbox pass failed; pending drafts are tried again shortly")]
    private partial void LogOutboxFailed(Exception ex);
}
