namespace ApprovalBot.Telegram;

/// <summary>
/// Telegram's word (a my_chat_member update) that the bot may post in the approvers' chat again: unblocked, added back
/// to the group, its right to post given back. What waits on the chat's refusal (the card outbox's next try, the look
/// at the cards behind their draft, the escalations' next reconcile cycle, the cards out of reach that the start could not
/// send again) listens here and goes at once, rather than at its next sweep or the next start. Only a hint: the
/// refusal itself is still what a send or an edit is answered with, so a wrong or early one costs one try.
/// </summary>
internal sealed class ChatReadmission
{
    private readonly Lock _lock = new();
    private Action[] _listeners = [];

    /// <summary>Calls <paramref name="listener"/> at every readmission from now on. It must not block: it runs on the update poller.</summary>
    public void Subscribe(Action listener)
    {
        lock (_lock)
        {
            _listeners = [.. _listeners, listener];
        }
    }

    public void Announce()
    {
        foreach (var listener in Volatile.Read(ref _listeners))
        {
            listener();
        }
    }
}
