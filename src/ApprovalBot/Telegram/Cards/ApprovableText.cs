using ApprovalBot.Drafts;

namespace ApprovalBot.Telegram.Cards;

/// <summary>
/// Whether a draft's text can be approved as it stands. An approval binds the stored hash, so it must be of the text the
/// approver is shown: a text gone from the store, or one that is not the text its hash was taken of, gets no Approve button
/// and an Approve tap on an older card is refused (the executor's handoff check would block it, but only after an
/// approval of a text nobody saw was stored). Reject stays: it executes nothing.
/// </summary>
internal static class ApprovableText
{
    public const string Missing = "text_missing";
    public const string Changed = "text_changed";

    /// <summary><see cref="Missing"/>, <see cref="Changed"/>, or null when the text can be approved.</summary>
    public static string? Problem(Draft draft) =>
        draft.Text is not { } text ? Missing : DraftHash.Of(text) == draft.Sha256 ? null : Changed;

    /// <summary>
    /// What is wrong with the text, to follow "its text" or "the text of …". Short: the card's line with it must fit
    /// <see cref="CardRenderer.StatusRoom"/>, all a card at the length limit keeps for it.
    /// </summary>
    public static string Said(string problem) =>
        problem == Missing ? "is missing from the store" : "does not match the stored SHA-256";

    /// <summary>The answer to a refused Approve tap.</summary>
    public static string Refusal(Draft draft, string problem) =>
        $"⚠️ The text of {draft.Id} {Said(problem)}: it cannot be approved. Nothing changed; it was reported. ❌ Reject still works.";
}
