using System.Globalization;
using ApprovalBot.Drafts;

namespace ApprovalBot.Telegram.Cards;

internal enum ResendResult
{
    /// <summary>The card went out and is the card on record.</summary>
    Sent,

    /// <summary>The card went out but the store could not record it: a tap on it decides, later outcomes are not shown on it.</summary>
    SentNotRecorded,

    /// <summary>
    /// The card went out, but another card became the draft's card on record while it was on its way (another move); the
    /// copy sent was removed (<see cref="ResendOutcome.Spare"/> says how far).
    /// </summary>
    Lost,

    /// <summary>This very request (the same update delivered again) sent it already; nothing was sent now.</summary>
    AlreadySent,

    /// <summary>The draft was decided, or otherwise left the wait for a decision; nothing was sent.</summary>
    NotAwaiting,

    /// <summary>The draft is pending: its first card is still the outbox's to send; nothing was sent.</summary>
    NotSentYet,

    /// <summary>The draft is pending and the outbox had given its card up: it is queued again.</summary>
    Requeued,

    /// <summary>Telegram refused or failed the send (after the client's own resends); nothing changed.</summary>
    Failed,

    /// <summary>
    /// Telegram took the send but its answer could not be read: the card is most likely in the chat, its id unknown. The
    /// draft is recorded as sent unconfirmed (<see cref="CardRecords.UnconfirmedEvent"/>: no message on record), and a tap on
    /// the copy decides once and makes it the card on record. Not sent again: asking again does, and records the card it sends.
    /// The old card loses its buttons as for a card sent: a later resend would not find it, with no message on record.
    /// </summary>
    OutcomeUnknown,
}

/// <param name="MessageId">The new card's message id (sent, or sent already by the same request: null when that one was sent
/// unconfirmed); for <see cref="ResendResult.Lost"/>, the card on record's.</param>
/// <param name="Error">Why the send failed, or the card error of a card not sent yet.</param>
/// <param name="Spare">For <see cref="ResendResult.Lost"/>: what became of the copy sent.</param>
internal sealed record ResendOutcome(ResendResult Result, Draft Draft, long? MessageId = null, string? Error = null, SpareCopy? Spare = null)
{
    /// <summary>The answer to the approver, plain text; <paramref name="where"/> is where the new card is from where they asked ("below", "above").</summary>
    public string Answer(string where)
    {
        var d = Draft;
        return Result switch
        {
            ResendResult.Sent when DraftStateMachine.AwaitsDecision(d.State) => $"🔁 Sent the card of {d.Id} again {where}: decide there.",
            ResendResult.Sent => $"🔁 Sent the card of {d.Id} again {where}, but meanwhile it no longer awaits a decision. {Where(d)}",
            ResendResult.SentNotRecorded => $"🔁 Sent the card of {d.Id} again {where}, but the store could not record it: a tap on it decides, later outcomes are not shown on it.",
            // Short enough for a button's answer (200 characters) with an id of some length.
            ResendResult.Lost => $"⚠️ Meanwhile another card of {d.Id} became its card" +
                (MessageId is { } onRecord ? $" (message {onRecord.ToString(CultureInfo.InvariantCulture)})" : "") + Spare switch
                {
                    SpareCopy.Deleted => ": the copy just sent was deleted.",
                    SpareCopy.ButtonsTakenOff => ": the copy just sent lost its buttons.",
                    _ => "; the copy just sent could not be removed, a tap on it still counts once.",
                } + (DraftStateMachine.AwaitsDecision(d.State) ? " Decide on that card." : " " + Where(d)),
            ResendResult.AlreadySent => $"🔁 The card of {d.Id} was sent again already for this request " +
                (MessageId is { } sent ? $"(message {sent.ToString(CultureInfo.InvariantCulture)})." : "(Telegram's answer could not be read)."),
            ResendResult.NotAwaiting => $"Nothing sent: {d.Id} no longer awaits a decision. {Where(d)}",
            ResendResult.NotSentYet => $"Nothing sent: the card of {d.Id} has not reached the chat yet; the card outbox keeps trying" +
                (Error is { } error ? $" (last attempt: {error})." : "."),
            ResendResult.Requeued => $"🔁 The card of {d.Id} had been given up ({Error}); it is queued again.",
            ResendResult.OutcomeUnknown => $"⚠️ The card of {d.Id} was probably sent again {where}, but Telegram's answer could not be read: a tap on it still " +
                "counts once. No new card there? Ask again.",
            _ => $"⚠️ Could not send the card of {d.Id} again: {Error}. Nothing changed; try again later.",
        };
    }

    /// <summary>Worth an alert rather than a passing note, for a button: nothing was sent, or not as asked.</summary>
    public bool Alert => Result is ResendResult.Failed or ResendResult.Lost or ResendResult.OutcomeUnknown;

    private static string Where(Draft d) => d switch
    {
        { Decision: not null } => $"It was {CardRenderer.DecidedBy(d)} and is {d.State.ToWire()} now.",
        { State: DraftState.Expired } => $"It expired at {CardRenderer.FormatTime(d.StateSince)} without a decision.",
        _ => $"It is {d.State.ToWire()} since {CardRenderer.FormatTime(d.StateSince)}.",
    };
}
