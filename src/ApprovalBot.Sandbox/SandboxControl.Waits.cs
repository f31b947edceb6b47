namespace ApprovalBot.Sandbox;

/// <summary>Signals so tests never sleep: each wait returns as soon as the state satisfies it, or throws <see cref="TimeoutException"/>.</summary>
public sealed partial class SandboxControl
{
    /// <summary>The first bot message (already sent or yet to come, in any chat) that satisfies <paramref name="predicate"/>, re-checked after every edit.</summary>
    public Task<SentMessage> WaitForMessageAsync(Func<SentMessage, bool> predicate, TimeSpan timeout, CancellationToken ct = default) =>
        WaitAsync(() => AllBotMessages().FirstOrDefault(predicate), timeout, "a bot message matching the predicate", ct);

    /// <summary>
    /// The first bot message in <paramref name="chatId"/> after <paramref name="afterMessageId"/> that satisfies
    /// <paramref name="predicate"/>. Messages up to that id are not even looked at, so a long-running client (the
    /// crash loop's approver, tens of thousands of cards) does not rescan the whole chat under the state lock on
    /// every change.
    /// </summary>
    public Task<SentMessage> WaitForMessageAsync(long chatId, long afterMessageId, Func<SentMessage, bool> predicate, TimeSpan timeout, CancellationToken ct = default) =>
        WaitAsync(
            () => _state.Chats.GetValueOrDefault(chatId)?.Messages
                .Where(m => m.MessageId > afterMessageId && m.From.Id == _state.Bot.Id)
                .Select(m => m.ToPublic())
                .FirstOrDefault(predicate),
            timeout,
            $"a bot message after {afterMessageId} in chat {chatId} matching the predicate",
            ct);

    /// <summary>A message once it has more than <paramref name="afterEditCount"/> edits and satisfies <paramref name="predicate"/>.</summary>
    public Task<SentMessage> WaitForEditAsync(long chatId, int messageId, TimeSpan timeout, Func<SentMessage, bool>? predicate = null, int afterEditCount = 0, CancellationToken ct = default) =>
        WaitAsync(
            () => _state.Chats.GetValueOrDefault(chatId)?.Find(messageId)?.ToPublic() is { } m && m.EditCount > afterEditCount && (predicate?.Invoke(m) ?? true) ? m : null,
            timeout,
            $"an edit of message {messageId} in chat {chatId}",
            ct);

    public Task<CallbackAnswer> WaitForCallbackAnswerAsync(string queryId, TimeSpan timeout, CancellationToken ct = default) =>
        WaitAsync(() => _state.Callbacks.Find(queryId)?.Answer, timeout, $"an answer to callback query {queryId}", ct);

    /// <summary>Completes once the bot confirmed the update via getUpdates' offset, i.e. it will never receive it again.</summary>
    public Task WaitForUpdateConfirmedAsync(long updateId, TimeSpan timeout, CancellationToken ct = default) =>
        WaitAsync(() => _state.Updates.ConfirmedOffset > updateId ? Done : null, timeout, $"the bot to confirm update {updateId}", ct);

    /// <summary>Completes once a getUpdates answer has carried the update (it may still be unconfirmed).</summary>
    public Task WaitForUpdateDeliveredAsync(long updateId, TimeSpan timeout, CancellationToken ct = default) =>
        WaitAsync(() => _state.Updates.HighestDelivered >= updateId ? Done : null, timeout, $"the bot to fetch update {updateId}", ct);

    /// <summary>Completes once a getUpdates call is pending, i.e. the bot is long-polling right now.</summary>
    public Task WaitForPollingAsync(TimeSpan timeout, CancellationToken ct = default) =>
        WaitAsync(() => _state.Updates.ActivePoll is not null ? Done : null, timeout, "the bot to long-poll getUpdates", ct);

    /// <summary>The first answered Bot API call (already received or yet to come) that satisfies <paramref name="predicate"/>.</summary>
    public Task<ApiCall> WaitForCallAsync(Func<ApiCall, bool> predicate, TimeSpan timeout, CancellationToken ct = default) =>
        WaitAsync(() => _state.Calls.All.FirstOrDefault(predicate), timeout, "a Bot API call matching the predicate", ct);

    private static readonly object Done = new();

    private async Task<T> WaitAsync<T>(Func<T?> probe, TimeSpan timeout, string what, CancellationToken ct)
        where T : class
    {
        var result = await _state.Gate.WaitAsync(probe, timeout, ct).ConfigureAwait(false);
        return result ?? throw new TimeoutException($"Sandbox: no {what} within {timeout.TotalSeconds:0.###} s. {Describe()}");
    }

    /// <summary>What the bot did so far, so a timed-out test says why rather than only that it waited.</summary>
    private string Describe() => _state.Gate.Read(() =>
    {
        var messages = AllBotMessages().TakeLast(5).Select(m => $"[{m.ChatId}/{m.MessageId} edits={m.EditCount}] {Shorten(m.Text ?? m.Caption)}");
        var calls = _state.Calls.All.TakeLast(8).Select(c => $"{c.Method}->{c.StatusCode}");
        return $"Last bot messages: {string.Join("; ", messages)}. Last calls: {string.Join(", ", calls)}. Pending updates: {_state.Updates.PendingCount}.";
    });

    private static string Shorten(string? text) => text is null ? "" : text.Length <= 60 ? text : text[..60] + "…";
}
