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

    /// <summary>Marks a group as upgraded to a supergroup: sends to it now fail with migrate_to_chat_id, like Telegram.</summary>
    public void MigrateChat(long chatId, long newChatId) => _state.Gate.Write(() =>
    {
        var chat = _state.ChatOrThrow(chatId);
        chat.MigratedTo = newChatId;
        _state.AddChat(new SandboxChat(newChatId, "supergroup", chat.Title, null));
    });
}
