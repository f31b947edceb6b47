using System.Globalization;
using ApprovalBot.Client;

namespace ApprovalBot.Pipe;

/// <summary>
/// The values an integer field of a request accepts. One place for the bounds, so the message refusing a value out of
/// range and the one refusing a value of another type (<see cref="StrictRequest"/>) name the same ones. Bounds are
/// <c>long</c> for fields that take a draft's <c>seq</c>; an <c>int</c> field's range lies within <c>int</c>.
/// </summary>
internal readonly record struct IntegerRange(string Field, long Min, long Max)
{
    public string OutOfRange => $"must be between {Min.ToString(CultureInfo.InvariantCulture)} and {Max.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The value, or <paramref name="fallback"/> when the request left it out; refused when outside the range.</summary>
    public int ValueOr(int? value, int fallback) => (int)InRange(value ?? fallback);

    /// <summary>The value, or null when the request left it out; refused when outside the range.</summary>
    public long? ValueOrNull(long? value) => value is { } v ? InRange(v) : null;

    private long InRange(long value) =>
        value >= Min && value <= Max ? value : throw new ProtocolException(ErrorCodes.Invalid, OutOfRange, Field);
}
