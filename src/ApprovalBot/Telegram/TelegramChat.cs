using System.Globalization;
using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Api;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Telegram;

/// <summary>
/// The approvers' chat and who may decide in it. The chat id can change under us (a group upgraded to a
/// supergroup): the bot learns it from the service message in the update stream or from a send that fails with
/// <c>migrate_to_chat_id</c>, whichever comes first; the new id is stored as a setting, so a restart keeps following it.
/// </summary>
internal sealed partial class TelegramChat(DraftStore store, ILogger<TelegramChat> logger)
{
    private const string MigrationKeyPrefix = "telegram.chat_migrated.";
    private readonly Lock _lock = new();
    private long _chatId;
    private HashSet<long> _approvers = [];
    private HashSet<long> _formerChatIds = [];

    public long ChatId => Interlocked.Read(ref _chatId);

    public bool IsApprover(long userId) => _approvers.Contains(userId);

    /// <summary>
    /// The approvers' chat, or a group it was upgraded from: a card still sitting in the old group is the same chat's
    /// card, so a tap on it counts as one made in the approvers' chat.
    /// </summary>
    public bool IsApproversChat(long? chatId)
    {
        if (chatId is not { } id)
        {
            return false;
        }
        if (id == ChatId)
        {
            return true;
        }
        lock (_lock)
        {
            return _formerChatIds.Contains(id);
        }
    }

    /// <summary>
    /// Set when the chat is the built-in sandbox's, which keeps its messages in memory and so starts empty at every start:
    /// the first message id of its chats. Every card on record below it was sent before this start and went with the
    /// earlier sandbox (or is in a chat this run does not reach). Null with a real bot: a Telegram chat keeps its messages.
    /// </summary>
    public long? FreshSandboxFirstMessageId { get; private set; }

    /// <summary>The bot's @username (from getMe), to tell "/pending@thisbot" from commands meant for another bot.</summary>
    public string? BotUsername { get; set; }

    /// <summary>The bot's user id (from getMe, before the first poll), to tell a my_chat_member update about the bot itself from a forged one.</summary>
    public long? BotId { get; set; }

    /// <summary>
    /// Sets the configured chat and approvers, then follows any migration stored earlier. Former chats are every chat of
    /// the configured chat's lineage: those it migrated into on its way to the chat in use, and those that migrated into
    /// it (the operator updated <c>ChatId</c> to the supergroup, as the README advises), so a tap on a card left in an old
    /// group still counts.
    /// </summary>
    public void Initialize(long configuredChatId, IEnumerable<long> approvers, long? freshSandboxFirstMessageId = null)
    {
        _approvers = [.. approvers];
        FreshSandboxFirstMessageId = freshSandboxFirstMessageId;
        var migrations = StoredMigrations();
        var chatId = configuredChatId;
        var lineage = new HashSet<long> { chatId };
        for (var hops = 0; hops < 10 && migrations.TryGetValue(chatId, out var next) && lineage.Add(next); hops++)
        {
            chatId = next;
        }
        // Backwards: every chat whose migrations lead into the lineage, transitively.
        var from = migrations.ToLookup(m => m.Value, m => m.Key);
        var open = new Queue<long>(lineage);
        while (open.TryDequeue(out var id))
        {
            foreach (var older in from[id])
            {
                if (lineage.Add(older))
                {
                    open.Enqueue(older);
                }
            }
        }
        lineage.Remove(chatId);
        if (chatId != configuredChatId)
        {
            LogFollowingMigration(configuredChatId, chatId);
        }
        lock (_lock)
        {
            _formerChatIds = lineage;
            Interlocked.Exchange(ref _chatId, chatId);
        }
    }

    /// <summary>Every migration stored so far, old chat id → new chat id.</summary>
    private Dictionary<long, long> StoredMigrations() => store.Read(connection =>
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT key, value FROM settings WHERE key GLOB $prefix";
        cmd.Parameters.AddWithValue("$prefix", MigrationKeyPrefix + "*");
        using var reader = cmd.ExecuteReader();
        var migrations = new Dictionary<long, long>();
        while (reader.Read())
        {
            if (long.TryParse(reader.GetString(0).AsSpan(MigrationKeyPrefix.Length), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var old) &&
                long.TryParse(reader.GetString(1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var target))
            {
                migrations[old] = target;
            }
        }
        return migrations;
    });

    /// <summary>
    /// Sends to the chat, following a "group migrated to supergroup" answer once: the new id is stored,
    /// then the same send is made to it.
    /// </summary>
    public async Task<T> SendAsync<T>(Func<long, Task<T>> send, CancellationToken cancellationToken)
    {
        var chatId = ChatId;
        try
        {
            return await send(chatId).ConfigureAwait(false);
        }
        catch (ApiRequestException ex) when (ex.MigrateToChatId is { } newId && newId != chatId)
        {
            await FollowMigrationAsync(chatId, newId).ConfigureAwait(false);
            return await send(newId).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Group <paramref name="oldChatId"/> became supergroup <paramref name="newChatId"/>. When it is the approvers' chat,
    /// the new id is stored (before it is used, so a crash cannot forget it) and used from now on; a migration already
    /// followed, or one of another chat the bot is in, changes nothing. True when the approvers' chat moved now.
    /// </summary>
    public async Task<bool> FollowMigrationAsync(long oldChatId, long newChatId)
    {
        if (oldChatId == newChatId || oldChatId != ChatId)
        {
            return false;
        }
        await store.SetSettingAsync(MigrationKeyPrefix + oldChatId.ToString(CultureInfo.InvariantCulture), newChatId.ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false);
        lock (_lock)
        {
            if (Interlocked.CompareExchange(ref _chatId, newChatId, oldChatId) != oldChatId)
            {
                return false; // followed meanwhile by the other path (a failed send and the service message race)
            }
            _formerChatIds = [.. _formerChatIds, oldChatId];
        }
        LogMigrated(oldChatId, newChatId);
        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Telegram chat {OldChatId} became supergroup {NewChatId}; the new id is stored and used from now on (update ApprovalBot:Telegram:ChatId when convenient)")]
    private partial void LogMigrated(long oldChatId, long newChatId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Telegram chat {ConfiguredChatId} migrated earlier; using {ChatId}")]
    private partial void LogFollowingMigration(long configuredChatId, long chatId);
}
