using ApprovalBot.Sandbox.State;

namespace ApprovalBot.Sandbox;

public sealed partial class SandboxControl
{
    /// <summary>Messages the bot sent to a chat (the approver's private chat by default), oldest first.</summary>
    public IReadOnlyList<SentMessage> GetMessages(long? chatId = null) => _state.Gate.Read(() =>
        _state.Chats.TryGetValue(chatId ?? PrivateChatId, out var chat) ? BotMessages(chat).ToArray() : []);

    public SentMessage? GetMessage(long chatId, int messageId) => _state.Gate.Read(() =>
        _state.Chats.GetValueOrDefault(chatId)?.Find(messageId) is { } m && m.From.Id == _state.Bot.Id ? m.ToPublic() : null);

    /// <summary>Every message the bot sent, in every chat.</summary>
    public IReadOnlyList<SentMessage> GetAllMessages() => _state.Gate.Read(AllBotMessages);

    public CallbackAnswer? GetCallbackAnswer(string queryId) => _state.Gate.Read(() => _state.Callbacks.Find(queryId)?.Answer);

    public IReadOnlyList<CallbackAnswer> GetCallbackAnswers() => _state.Gate.Read(() => _state.Callbacks.Answers.ToArray());

    /// <summary>
    /// Bot API calls received so far (optionally of one method), oldest first. A call is logged as it is answered, just
    /// after its effect: a wait on the effect (<see cref="WaitForEditAsync"/>, <see cref="WaitForMessageAsync(Func{SentMessage, bool}, TimeSpan, CancellationToken)"/>)
    /// can return before the call that made it is here, so wait for that call with <see cref="WaitForCallAsync"/> before counting calls.
    /// </summary>
    public IReadOnlyList<ApiCall> GetCalls(string? method = null) => _state.Gate.Read(() =>
        _state.Calls.All.Where(c => method is null || string.Equals(c.Method, method, StringComparison.OrdinalIgnoreCase)).ToArray());

    /// <summary>The commands set for the default scope and no language, as the approver's menu shows them.</summary>
    public IReadOnlyList<BotCommandInfo> GetCommands() => _state.Gate.Read(() => _state.Commands.Get(null, null));

    public int PendingUpdateCount => _state.Gate.Read(() => _state.Updates.PendingCount);

    /// <summary>Updates with a lower id have been confirmed by the bot (or dropped).</summary>
    public long ConfirmedOffset => _state.Gate.Read(() => _state.Updates.ConfirmedOffset);

    public bool IsPolling => _state.Gate.Read(() => _state.Updates.ActivePoll is not null);

    private IEnumerable<SentMessage> BotMessages(SandboxChat chat) =>
        chat.Messages.Where(m => m.From.Id == _state.Bot.Id).Select(m => m.ToPublic());

    private SentMessage[] AllBotMessages() =>
        _state.Chats.Values.SelectMany(BotMessages).OrderBy(m => m.Date).ThenBy(m => m.MessageId).ToArray();
}
