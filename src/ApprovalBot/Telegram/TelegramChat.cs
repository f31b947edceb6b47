using System.Globalization;
using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Api;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Telegram;

/// <summary>
/// The approvers' chat and who may decide in it. The chat id can change under us (a group upgraded to a
/// supergroup); the new id is stored as a setting, so a restart keeps following it.
/// </summary>
internal sealed partial class TelegramChat(DraftStore store, ILogger<TelegramChat> logger)
{
    private const string MigrationKeyPrefix = "telegram.chat_migrated.";
    private long _chatId;
    private HashSet<long> _approvers = [];

    public long ChatId => Interlocked.Read(ref _chatId);

    public bool IsApprover(long userId) => _approvers.Contains(userId);

    /// <summary>The bot's @username (from getMe), to tell "/pending@thisbot" from commands meant for another bot.</summary>
    public string? BotUsername { get; set; }

    /// <summary>Sets the configured chat and approvers, then follows any migration stored earlier.</summary>
    public void Initialize(long configuredChatId, IEnumerable<long> approvers)
    {
        _approvers = [.. approvers];
        var chatId = configuredChatId;
        for (var hops = 0; hops < 10 && store.GetSetting(MigrationKeyPrefix + chatId) is { } next; hops++)
        {
            chatId = long.Parse(next, CultureInfo.InvariantCulture);
        }
        if (chatId != configuredChatId)
        {
            LogFollowingMigration(configuredChatId, chatId);
        }
        Interlocked.Exchange(ref _chatId, chatId);
    }

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
            await store.SetSettingAsync(MigrationKeyPrefix + chatId.ToString(CultureInfo.InvariantCulture), newId.ToString(CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false);
            Interlocked.CompareExchange(ref _chatId, newId, chatId);
            LogMigrated(chatId, newId);
            return await send(newId).ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Telegram chat {OldChatId} became supergroup {NewChatId}; the new id is stored and used from now on (update ApprovalBot:Telegram:ChatId when convenient)")]
    private partial void LogMigrated(long oldChatId, long newChatId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Telegram chat {ConfiguredChatId} migrated earlier; using {ChatId}")]
    private partial void LogFollowingMigration(long configuredChatId, long chatId);
}
