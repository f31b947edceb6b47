using System.Globalization;
using System.Text.Json.Nodes;
using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Cards;
using ApprovalBot.Telegram.Updates;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Telegram;

/// <summary>
/// Which bot the store's Telegram state belongs to, kept in its settings: the bot's user id (a bot token starts with it, and
/// getMe reports the same), or <see cref="Sandbox"/> for the built-in sandbox. Only the bot that sent a card receives the
/// taps on its buttons and may edit it, so the chat id alone cannot tell whether a card is in this run's reach: a new token
/// for the same chat, or a token added to a setup whose <c>ChatId</c> the built-in sandbox used, left every card waiting for
/// a decision with buttons that reach nobody. At a start with another bot than the one recorded, the cards recorded until
/// then are marked as another bot's (<see cref="Switch"/>), and <see cref="VanishedCards"/> sends them again
/// (<c>bot_changed</c>). The mark stays in the store until every such card of a draft awaiting a decision was sent again
/// (<see cref="SwitchDoneAsync"/>), so a pass cut short by a stop, or a card that could not be sent, is taken up at the next
/// start; cards this bot sends meanwhile are recorded after it and never taken for the former bot's. The stored getUpdates
/// offset goes at the switch too: it counts the former bot's updates, and one above the new bot's ids would have Telegram
/// hold back (and drop) every tap and command of the new bot until its ids passed it.
/// </summary>
internal sealed partial class RecordedBot(DraftStore store, ILogger<RecordedBot> logger)
{
    /// <summary>The settings key of the bot whose cards are on record.</summary>
    internal const string BotKey = "telegram.bot";

    /// <summary>The settings key of an unfinished switch: JSON <c>{"from", "to", "before_event"}</c>.</summary>
    internal const string SwitchKey = "telegram.bot_switch";

    /// <summary>The ledger event of a switch (no draft): who the cards were from, the bot now, and the boundary.</summary>
    internal const string ChangedEvent = "telegram_bot_changed";

    /// <summary>The built-in sandbox: its chats start empty at every start, which <see cref="VanishedCards"/> handles on its own.</summary>
    public const string Sandbox = "sandbox";

    /// <summary>The ledger events that make a message a draft's card on record (or, unconfirmed, a draft's card without one).</summary>
    internal const string CardEventTypes = "'card_sent', '" + CardRecords.MovedEvent + "', '" + CardRecords.UnconfirmedEvent + "'";

    /// <summary>Set at start while cards recorded by an earlier bot may still wait for a decision; null otherwise.</summary>
    public BotSwitch? Switch { get; private set; }

    /// <summary>
    /// The bot's user id: the digits before the colon of its token (the options validator refuses a token of another form).
    /// Another token of the same bot (revoked and issued again in BotFather) is the same bot, whose cards stay in reach.
    /// </summary>
    public static string IdOf(string token) => token.IndexOf(':', StringComparison.Ordinal) is var colon and > 0 ? token[..colon] : "unknown";

    /// <summary>
    /// Compares <paramref name="bot"/> with the bot recorded. The same bot: nothing changes (an unfinished switch of an
    /// earlier start is taken up again). None recorded (a new store, or one an older build ran, which kept no bot): this
    /// one is recorded and its cards taken for this bot's; an older build's store switched bots in the same upgrade is not
    /// told apart (README). Another bot: the switch is recorded, with the last ledger event's id as its boundary, and the
    /// former bot's update offset removed, in one transaction, before anything this run sends or polls (this runs before the
    /// poller and the outbox start).
    /// </summary>
    public async Task StartAsync(string bot)
    {
        var recorded = store.GetSetting(BotKey);
        var unfinished = BotSwitch.Parse(store.GetSetting(SwitchKey));
        if (recorded == bot)
        {
            Switch = unfinished;
            if (unfinished is not null)
            {
                LogSwitchUnfinished(unfinished.From, bot, unfinished.BeforeEvent);
            }
            return;
        }
        BotSwitch change;
        try
        {
            if (recorded is null)
            {
                await store.SetSettingAsync(BotKey, bot).ConfigureAwait(false);
                LogFirstRecorded(bot);
                return;
            }
            change = await store.WriteAsync(ctx => RecordSwitch(ctx, recorded, bot)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is StoreUnavailableException or SqliteException)
        {
            // A store that takes no write could not record a card sent again either: the former bot stays recorded, and
            // the next start tells the bots apart again.
            LogNotRecorded(ex, recorded ?? "none", bot);
            return;
        }
        Switch = change;
        LogSwitched(recorded, bot, change.BeforeEvent);
    }

    private static BotSwitch RecordSwitch(WriteContext ctx, string from, string to)
    {
        long last;
        using (var cmd = ctx.Command("SELECT COALESCE(MAX(id), 0) FROM events"))
        {
            last = Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
        }
        var change = new BotSwitch(from, to, last);
        ctx.SetSetting(BotKey, to);
        ctx.SetSetting(SwitchKey, change.ToJson());
        // The new bot's first poll then takes every update Telegram kept for it, from its oldest.
        ctx.Execute("DELETE FROM settings WHERE key = $key", ("$key", UpdatePoller.OffsetSetting));
        ctx.AppendEvent(null, ChangedEvent, "telegram", change.ToJson());
        return change;
    }

    /// <summary>
    /// Those of <paramref name="draftIds"/> whose card on record was recorded before <paramref name="change"/> (by the former
    /// bot): no card event of the draft after its boundary. A draft with none at all (carded by hand) counts as the former
    /// bot's. One read for all of them: a pass asks for a page of drafts at a time.
    /// </summary>
    public IReadOnlySet<string> CardsRecordedBefore(IReadOnlyCollection<string> draftIds, BotSwitch change) => store.Read(connection =>
    {
        using var cmd = connection.CreateCommand();
        // Per id, the same look-up along events_by_draft as for one draft (a plain IN over the ids would have SQLite walk every card event by type).
        cmd.CommandText = "SELECT j.value FROM json_each($ids) AS j WHERE NOT EXISTS " +
            $"(SELECT 1 FROM events WHERE draft_id = j.value AND type IN ({CardEventTypes}) AND id > $before)";
        cmd.Parameters.AddWithValue("$ids", new JsonArray([.. draftIds.Select(id => JsonValue.Create(id))]).ToJsonString());
        cmd.Parameters.AddWithValue("$before", change.BeforeEvent);
        using var reader = cmd.ExecuteReader();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        while (reader.Read())
        {
            ids.Add(reader.GetString(0));
        }
        return ids;
    });

    /// <summary>Every card of the former bot awaiting a decision was sent again: the mark goes (unless a newer switch replaced it).</summary>
    public async Task SwitchDoneAsync(BotSwitch change)
    {
        var json = change.ToJson();
        try
        {
            await store.WriteAsync(ctx => ctx.Execute("DELETE FROM settings WHERE key = $key AND value = $value", ("$key", SwitchKey), ("$value", json))).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is StoreUnavailableException or SqliteException)
        {
            // Kept, the next start looks at the drafts again and finds every card recorded after the boundary: nothing is sent.
            LogSwitchDoneNotRecorded(ex, change.From, change.To);
            return;
        }
        Switch = null;
        LogSwitchDone(change.From, change.To);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Every card of bot {FormerBot} awaiting a decision was sent again by bot {Bot}, but the store could not record that; " +
        "the next start looks at them again")]
    private partial void LogSwitchDoneNotRecorded(Exception ex, string formerBot, string bot);

    [LoggerMessage(Level = LogLevel.Warning, EventName = "TelegramBotChanged",
        Message = "The cards on record were posted by bot {FormerBot}, this run's bot is {Bot}: their buttons reach the former bot only. Every draft still " +
        "awaiting a decision gets its card again in the approvers' chat (card_moved, reason bot_changed); drafts decided before keep their cards (ledger event {BeforeEvent} and before). " +
        "Polling starts from the oldest update Telegram keeps for this bot")]
    private partial void LogSwitched(string formerBot, string bot, long beforeEvent);

    [LoggerMessage(Level = LogLevel.Information, Message = "The cards of bot {FormerBot} are still being sent again by bot {Bot} (switch of ledger event {BeforeEvent}, unfinished at the last start)")]
    private partial void LogSwitchUnfinished(string formerBot, string bot, long beforeEvent);

    [LoggerMessage(Level = LogLevel.Information, Message = "Recorded bot {Bot} as the bot of the cards on record (none was recorded: a new store, or one an earlier build ran)")]
    private partial void LogFirstRecorded(string bot);

    [LoggerMessage(Level = LogLevel.Information, Message = "Every card of bot {FormerBot} awaiting a decision was sent again by bot {Bot}")]
    private partial void LogSwitchDone(string formerBot, string bot);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not record which bot posts the cards (recorded: {FormerBot}, this run's: {Bot}); if they differ, the cards " +
        "of drafts awaiting a decision are not sent again in this run, only at the next start that can record it")]
    private partial void LogNotRecorded(Exception ex, string formerBot, string bot);
}

/// <summary>A switch of the bot that posts the cards: every card recorded by a ledger event up to <paramref name="BeforeEvent"/> is <paramref name="From"/>'s.</summary>
internal sealed record BotSwitch(string From, string To, long BeforeEvent)
{
    public string ToJson() => new JsonObject { ["from"] = From, ["to"] = To, ["before_event"] = BeforeEvent }.ToJsonString();

    /// <summary>The stored switch, or null when there is none or it cannot be read (then nothing is sent again for it).</summary>
    public static BotSwitch? Parse(string? json)
    {
        if (json is null)
        {
            return null;
        }
        try
        {
            return JsonNode.Parse(json) is JsonObject o && (string?)o["from"] is { } from && (string?)o["to"] is { } to && (long?)o["before_event"] is { } before
                ? new BotSwitch(from, to, before)
                : null;
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }
}
