using ApprovalBot.Sandbox.Spec;
using ApprovalBot.Sandbox.State;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Sandbox;

/// <summary>
/// The in-process control surface: act as a user, read what the bot did, wait for it without sleeping,
/// and inject faults. Everything here is also reachable over HTTP under /sandbox/.
/// </summary>
public sealed partial class SandboxControl
{
    private readonly SandboxState _state;
    private readonly BotApiSpec _spec;
    private readonly ILogger _logger;

    internal SandboxControl(SandboxState state, BotApiSpec spec, ILogger logger)
    {
        _state = state;
        _spec = spec;
        _logger = logger;
    }

    public long PrivateChatId => _state.Approver.Id;

    public long ApproverId => _state.Approver.Id;

    public long StrangerId => _state.Stranger.Id;

    public long GroupChatId => _state.Settings.GroupChatId;

    public long BotId => _state.Bot.Id;

    public string BotUsername => _state.Bot.Username!;

    /// <summary>Switches Telegram's rate limits on or off while running.</summary>
    public bool RateLimitsEnabled
    {
        get => _state.Gate.Read(() => _state.Limits.Enabled);
        set => _state.Gate.Write(() =>
        {
            _state.Limits.Enabled = value;
            _state.Limits.Reset();
        });
    }

    internal SandboxState State => _state;

    /// <summary>The clamped timeout of the latest getUpdates: lets tests check clamping without waiting 50 seconds.</summary>
    internal TimeSpan? LastLongPollTimeout => _state.Gate.Read(() => _state.Updates.LastPollTimeout);

    /// <summary>Answers the next <paramref name="times"/> calls of <paramref name="method"/> with <paramref name="fault"/>.</summary>
    public void InjectFault(string method, SandboxFault fault, int times = 1)
    {
        ArgumentNullException.ThrowIfNull(fault);
        ArgumentOutOfRangeException.ThrowIfLessThan(times, 1);
        var spec = _spec.FindMethod(method) ?? throw new ArgumentException($"The Bot API has no method \"{method}\".", nameof(method));
        _state.Gate.Write(() => _state.Faults.Add(spec.Name, fault, times));
        _logger.LogInformation("Fault {Kind} queued for the next {Times} {Method} call(s)", fault.Kind, times, spec.Name);
    }

    public void ClearFaults() => _state.Gate.Write(() => _state.Faults.Clear());

    /// <summary>
    /// Ends the answer window of every button press so far, as Telegram does some seconds after a tap: answering one of
    /// them is refused with "query is too old" from now on, as for a tap the bot receives late (it was down). Returns how many
    /// were still unanswered.
    /// </summary>
    public int ExpireCallbackQueries() => _state.Gate.Write(() => _state.Callbacks.ExpireAll());

    /// <summary>The bot's current token.</summary>
    public string Token => _state.Gate.Read(() => _state.Token);

    /// <summary>
    /// Like BotFather's /revoke: the bot gets a new token (same bot id, new secret), returned, and every call with the old
    /// one is answered 401 Unauthorized from now on; the bot's chats, messages and pending updates stay as they are.
    /// </summary>
    public string RevokeToken()
    {
        var token = _state.Gate.Write(() =>
        {
            _state.Token = $"{_state.Bot.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)}:{Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16))}";
            return _state.Token;
        });
        _logger.LogInformation("Bot token revoked; calls with the old token are answered 401");
        return token;
    }

    /// <summary>
    /// Upgrades a group to a supergroup, like Telegram: calls addressing the old id now fail with migrate_to_chat_id, and
    /// unless <paramref name="notify"/> is false the bot gets the two service messages Telegram sends, one with
    /// migrate_to_chat_id in the old group and one with migrate_from_chat_id in the new supergroup. Returns their update
    /// ids (none without <paramref name="notify"/>).
    /// </summary>
    public IReadOnlyList<long> MigrateChat(long chatId, long newChatId, bool notify = true) => _state.Gate.Write(() =>
    {
        var chat = _state.ChatOrThrow(chatId);
        if (chat.Type != "group" || chat.MigratedTo is not null)
        {
            throw new ArgumentException($"Chat {chatId} is not a group that can be upgraded to a supergroup.", nameof(chatId));
        }

        if (_state.Chats.ContainsKey(newChatId))
        {
            throw new ArgumentException($"The sandbox already has a chat {newChatId}.", nameof(newChatId));
        }

        chat.MigratedTo = newChatId;
        var supergroup = new SandboxChat(newChatId, "supergroup", chat.Title, null, _state.FirstMessageId);
        _state.AddChat(supergroup);
        if (!notify)
        {
            return (IReadOnlyList<long>)[];
        }

        return [ServiceMessage(chat, "migrate_to_chat_id", newChatId), ServiceMessage(supergroup, "migrate_from_chat_id", chatId)];
    });

    /// <summary>A service message (no text) from the approver, as the member who upgraded the group; queued as a "message" update.</summary>
    private long ServiceMessage(SandboxChat chat, string field, long value)
    {
        var messageId = chat.NextMessageId();
        var date = _state.Now.ToUnixTimeSeconds();
        return _state.Updates.Enqueue("message", id => new System.Text.Json.Nodes.JsonObject
        {
            ["update_id"] = id,
            ["message"] = new System.Text.Json.Nodes.JsonObject
            {
                ["message_id"] = messageId,
                ["from"] = _state.Approver.ToJson(),
                ["chat"] = chat.ToJson(),
                ["date"] = date,
                [field] = value,
            },
        });
    }
}
