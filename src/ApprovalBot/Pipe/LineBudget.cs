namespace ApprovalBot.Pipe;

/// <summary>
/// The longest request line a kind's limits let an agent send. The text is limited in code points and the context in
/// bytes as sent, but the line carries the text as the agent's JSON encoder writes it: up to 12 bytes a code point
/// (Python's <c>json.dumps</c> writes an emoji as two <c>\uXXXX</c> escapes by default). When that does not fit in
/// <c>Pipe:MaxLineBytes</c>, some texts within the kind's <c>MaxLength</c> are refused <c>too_large</c>.
/// </summary>
internal static class LineBudget
{
    /// <summary>A code point beyond U+FFFF written as a surrogate pair of escapes, <c>\ud83d\ude00</c>.</summary>
    public const int MaxBytesPerCodePoint = 12;

    /// <summary>
    /// Everything else of a submit: the id (200 ASCII characters), the kind (64), the agent (200 UTF-16 units, 6 bytes
    /// each when escaped), the keys and the punctuation.
    /// </summary>
    public const int Envelope = 4096;

    /// <summary>Bytes of the longest submit line a kind of <paramref name="maxLength"/> allows.</summary>
    public static long LongestSubmit(int maxLength, int maxContextBytes) =>
        (long)maxLength * MaxBytesPerCodePoint + maxContextBytes + Envelope;
}
