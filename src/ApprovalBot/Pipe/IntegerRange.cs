using System.Globalization;
using ApprovalBot.Client;

namespace ApprovalBot.Pipe;

/// <summary>
/// The values an integer field of a request accepts. One place for the bounds, so the message refusing a value out of
/// range and the one refusing a value of another type (<see cref="StrictRequest"/>) name the same ones.
/// </summary>
internal readonly record struct IntegerRange(string Field, int Min, int Max)
{
    public string OutOfRange => $"must be between {Min.ToString(CultureInfo.InvariantCulture)} and {Max.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The value, or <paramref name="fallback"/> when the request left it out; refused when outside the range.</summary>
    public int ValueOr(int? value, int fallback)
    {
        var v = value ?? fallback;
        return v >= Min && v <= Max ? v : throw new ProtocolException(ErrorCodes.Invalid, OutOfRange, Field);
    }
}
