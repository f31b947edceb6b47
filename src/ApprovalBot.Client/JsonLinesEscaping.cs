namespace ApprovalBot.Client;

/// <summary>
/// The escaping rule of protocol requests, shared by <see cref="JsonLinesEncoder"/> (System.Text.Json's writer) and
/// approvalctl's hand-written submit line. Apart from the encoder so the CLI's fast path can use it without loading
/// System.Text.Encodings.Web. Quote, backslash and the control characters (U+0000–U+001F, U+007F–U+009F) are escaped as
/// JSON requires, and so are U+2028/U+2029, so no line break of any convention appears raw in a request line.
/// </summary>
public static class JsonLinesEscaping
{
    /// <summary>True for the characters a request line must not carry raw.</summary>
    public static bool MustEscape(int scalar) =>
        scalar is < 0x20 or '"' or '\\' or (>= 0x7F and <= 0x9F) or 0x2028 or 0x2029;

    /// <summary>The escape of <paramref name="ch"/>, one of <see cref="MustEscape"/>'s characters: the short form where JSON has one, else <c>\u</c> and four lowercase hex digits.</summary>
    public static string Escape(char ch) => ch switch
    {
        '"' => "\\\"",
        '\\' => "\\\\",
        '\b' => "\\b",
        '\f' => "\\f",
        '\n' => "\\n",
        '\r' => "\\r",
        '\t' => "\\t",
        _ => "\\u" + ((int)ch).ToString("x4", System.Globalization.CultureInfo.InvariantCulture),
    };
}
