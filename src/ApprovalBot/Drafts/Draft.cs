namespace ApprovalBot.Drafts;

/// <summary>One row of the drafts table, as stored.</summary>
internal sealed record Draft
{
    public required string Id { get; init; }
    public long Seq { get; init; }
    public required string Kind { get; init; }
    public required string Agent { get; init; }

    /// <summary>Null when the text vanished from the store: the gap this product exists to catch.</summary>
    public string? Text { get; init; }
    public required string Sha256 { get; init; }
    public string? ContextJson { get; init; }
    public DraftState State { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    public DateTimeOffset StateSince { get; init; }

    public long? CardChatId { get; init; }
    public long? CardMessageId { get; init; }
    public int CardAttempts { get; init; }
    public DateTimeOffset? CardNextAt { get; init; }
    public string? CardError { get; init; }

    /// <summary>
    /// The state (wire name) of the draft when the card on record last showed it (sent, or edited with Telegram's
    /// acknowledgement), or was left at because its edit was given up for good: refused by Telegram (a <c>card_edit_refused</c>
    /// event) or failing on the card itself, e.g. rendering (a <c>card_edit_failed</c> event).
    /// Differs from <see cref="State"/> while the card is behind; null for a card recorded before schema 7.
    /// </summary>
    public string? CardShownState { get; init; }

    /// <summary>
    /// <see cref="StateSince"/> of the state the card last showed: a draft can come back to a state it left (failed,
    /// Retry, failed again with another error), and its card must then show the new error. Null where only the state
    /// is known (a card as sent, or recorded before this was kept).
    /// </summary>
    public DateTimeOffset? CardShownSince { get; init; }

    /// <summary>Message <paramref name="messageId"/> in chat <paramref name="chatId"/> is the draft's card on record, whose record <see cref="CardShowsCurrentState"/> reads.</summary>
    public bool IsCardOnRecord(long chatId, long messageId) => CardChatId == chatId && CardMessageId == messageId;

    /// <summary>The card on record shows this state of the draft, as far as the record tells.</summary>
    public bool CardShowsCurrentState =>
        string.Equals(CardShownState, State.ToWire(), StringComparison.Ordinal) && (CardShownSince is null || CardShownSince == StateSince);

    public string? Decision { get; init; }
    public long? DecidedBy { get; init; }
    public string? DecidedByName { get; init; }
    public DateTimeOffset? DecidedAt { get; init; }
    public string? DecisionSha256 { get; init; }

    public int ExecAttempts { get; init; }
    public DateTimeOffset? ExecNextAt { get; init; }
    public string? ExecKey { get; init; }
    public string? LeaseToken { get; init; }
    public DateTimeOffset? LeaseUntil { get; init; }
    public string? ExecResult { get; init; }
    public string? ExecError { get; init; }
    public DateTimeOffset? ExecAt { get; init; }

    /// <summary>
    /// Who withdrew the draft, for a draft cancelled by its agent (<see cref="CancelledByAgent"/>); null for any other
    /// way into <c>cancelled</c> (an approver's Discard) and for every other state.
    /// </summary>
    public string? CancelledBy { get; init; }

    /// <summary>The agent's reason for withdrawing it, as given; null when it gave none.</summary>
    public string? CancelReason { get; init; }

    /// <summary>
    /// The Telegram user id of the approver who marked the draft done (Mark done on an unknown draft: they checked the sink
    /// and the effect is there); null for a draft executed by a run, and for every other state. 0 when the ledger of a
    /// draft marked done before this was kept did not name a Telegram user.
    /// </summary>
    public long? MarkedDoneBy { get; init; }

    /// <summary>Their name as Telegram gave it then; null when not known (marked done before this was kept).</summary>
    public string? MarkedDoneByName { get; init; }

    /// <summary>The value of <see cref="CancelledBy"/> for a draft its agent withdrew over the pipe.</summary>
    public const string CancelledByAgent = "agent";

    /// <summary>Cancelled, and by its agent rather than by an approver.</summary>
    public bool WithdrawnByAgent => State == DraftState.Cancelled && string.Equals(CancelledBy, CancelledByAgent, StringComparison.Ordinal);
}
