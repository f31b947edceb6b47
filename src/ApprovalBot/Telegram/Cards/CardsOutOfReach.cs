namespace ApprovalBot.Telegram.Cards;

/// <summary>
/// What the passes over the cards out of the approvers' reach share: the start's (<see cref="VanishedCards"/>), then one at
/// each readmission while drafts wait on the chat (<see cref="VanishedCardsOnReadmission"/>). They run one after the other,
/// so only the pass running touches it.
/// </summary>
/// <param name="first">The fresh built-in sandbox's first message id, as the start's pass saw it.</param>
internal sealed class CardsOutOfReach(BotSwitch? change, long? first)
{
    /// <summary>The drafts whose card the chat refused (or, after a refusal, was not tried: it would have been refused the same way).</summary>
    public HashSet<string> WaitingOnChat { get; } = new(StringComparer.Ordinal);

    /// <summary>The switch of bots the start's pass looked at; null once done (or when there was none).</summary>
    public BotSwitch? Change { get; set; } = change;

    public long? First { get; } = first;

    /// <summary>A card was lost for another reason than the chat (or a pass failed midway): the switch is left for the next start.</summary>
    public bool SwitchLeft { get; set; }
}

/// <summary>One pass's counts, and the first refusal of the bot by the chat (after which nothing more is tried).</summary>
internal sealed class ResendTally
{
    public int Resent { get; set; }
    public int Unconfirmed { get; set; }
    public int Lost { get; set; }
    public int Refused { get; set; }
    public (Api.ApiRequestException Error, string DraftId)? Refusal { get; set; }
    public bool Any => Resent + Unconfirmed + Lost + Refused > 0;
}
