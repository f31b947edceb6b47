using System.Globalization;

namespace ApprovalBot.Telegram.Cards;

internal enum CallbackAction
{
    Approve,
    Reject,
    Retry,
    Discard,
    MarkDone,

    /// <summary>Acknowledges a stray-tap gap; its seq is the ledger event's id, its hash <c>GapDismissals.Binding</c>.</summary>
    Dismiss,

    /// <summary>Sends the card of a draft awaiting a decision again (an <c>awaiting_decision</c> escalation's button).</summary>
    ResendCard,
}

/// <summary>
/// What a button carries: an action, the draft's seq (short, unlike its id) and the first 16 hex characters
/// of the SHA-256 of the text the button was shown with, e.g. <c>a:42:0123456789abcdef</c>. At most
/// 2 + 1 + 19 + 1 + 16 = 39 bytes, well inside Telegram's 64. A Retry or Mark done button of an escalation also
/// carries when the draft entered the state the escalation is about (<see cref="StateSinceMs"/>, Unix ms), e.g.
/// <c>er:42:0123456789abcdef:1767225600000</c>: at most 39 + 1 + 19 = 59 bytes. Resend card (<c>ec</c>) carries none: it
/// sends a card only while the draft awaits a decision, whenever the escalation was made.
/// </summary>
internal sealed record CallbackData(CallbackAction Action, long Seq, string HashPrefix)
{
    public const int HashPrefixLength = 16;

    public static CallbackData For(CallbackAction action, long seq, string sha256) => new(action, seq, sha256[..HashPrefixLength]);

    /// <summary>
    /// The draft's state_since when the escalation was made: the action applies to that failure or unknown outcome only,
    /// not to a later one the approver has not seen (a tap delivered again, or a second approver's tap on the same message,
    /// after the draft was retried and failed again). Null on buttons that carry none (decisions, Discard, Dismiss, and
    /// escalations sent before this was added).
    /// </summary>
    public long? StateSinceMs { get; init; }

    public bool IsDecision => Action is CallbackAction.Approve or CallbackAction.Reject;

    public bool Matches(string sha256) => sha256.StartsWith(HashPrefix, StringComparison.Ordinal);

    public override string ToString() =>
        $"{Code(Action)}:{Seq.ToString(CultureInfo.InvariantCulture)}:{HashPrefix}" +
        (StateSinceMs is { } since ? ":" + since.ToString(CultureInfo.InvariantCulture) : "");

    public static bool TryParse(string? data, out CallbackData parsed)
    {
        parsed = null!;
        if (data is null || data.Length > 64)
        {
            return false;
        }
        var parts = data.Split(':');
        if (parts.Length is not (3 or 4) || ParseAction(parts[0]) is not { } action)
        {
            return false;
        }
        long? since = null;
        if (parts.Length == 4)
        {
            if (action is not (CallbackAction.Retry or CallbackAction.MarkDone)
                || !TryParseCanonical(parts[3], out var sinceMs))
            {
                return false;
            }
            since = sinceMs;
        }
        if (!TryParseCanonical(parts[1], out var seq) || seq <= 0)
        {
            return false;
        }
        var hash = parts[2];
        if (hash.Length != HashPrefixLength || !hash.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f'))
        {
            return false;
        }
        parsed = new CallbackData(action, seq, hash) { StateSinceMs = since };
        return true;
    }

    /// <summary>
    /// A number only as <see cref="ToString"/> writes it: digits, no leading zero. Data no button was issued with is
    /// forged, and is refused as such rather than read as the button it resembles (<c>a:01:…</c> approved draft 1).
    /// </summary>
    private static bool TryParseCanonical(string digits, out long value) =>
        long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out value)
        && string.Equals(digits, value.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);

    private static string Code(CallbackAction action) => action switch
    {
        CallbackAction.Approve => "a",
        CallbackAction.Reject => "r",
        CallbackAction.Retry => "er",
        CallbackAction.Discard => "ed",
        CallbackAction.MarkDone => "em",
        CallbackAction.Dismiss => "ex",
        CallbackAction.ResendCard => "ec",
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, null),
    };

    private static CallbackAction? ParseAction(string code) => code switch
    {
        "a" => CallbackAction.Approve,
        "r" => CallbackAction.Reject,
        "er" => CallbackAction.Retry,
        "ed" => CallbackAction.Discard,
        "em" => CallbackAction.MarkDone,
        "ex" => CallbackAction.Dismiss,
        "ec" => CallbackAction.ResendCard,
        _ => null,
    };
}
