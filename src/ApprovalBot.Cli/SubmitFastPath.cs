using System.Buffers;
using System.Text;
using System.Text.Json;
using ApprovalBot.Client;

namespace ApprovalBot.Cli;

/// <summary>
/// The hot path of <c>approvalctl submit</c>, which agents run once per draft: a process whose start-up is most
/// of its cost. For the plain shape of the command (<c>submit</c> with <c>--name value</c> options, each at most
/// once, all required ones present) it skips loading System.CommandLine and System.Text.Json altogether: the
/// request line is written by hand, the pipe is used with blocking I/O (no thread pool, no socket event loop) and a
/// successful receipt is read by a small reader. Anything else (help, <c>--opt=value</c>, unknown or repeated
/// options, a usage error, any error answer, an unexpected response shape) goes through the full parser and
/// contract, so behaviour and messages stay exactly those of <see cref="Commands.SubmitCommand"/>. Measured
/// (published, ReadyToRun, 2 cores): 63 ms -> 39 ms median per submit; a bare .NET program takes 26 ms.
/// </summary>
internal static class SubmitFastPath
{
    internal sealed record Arguments(string Id, string Kind, string Agent, string? Text, string? TextFile, string? ContextJson, string? Pipe, bool Json);

    private static readonly string[] ValueOptions = ["--id", "--kind", "--agent", "--text", "--text-file", "--context-json", "--pipe"];

    /// <summary>The options of <see cref="GlobalOptions"/> that take a value (<c>--json</c> takes none): the only ones allowed before <c>submit</c>.</summary>
    private static readonly string[] GlobalValueOptions = ["--pipe"];

    /// <summary>
    /// The arguments when they have the plain shape this path handles; otherwise null (use the full parser). Before
    /// <c>submit</c> only the global options (<c>--json</c>, <c>--pipe</c>) may stand, as the full parser demands; after
    /// it, any of submit's options. A value is taken as given, also one that starts with <c>@</c> (the full parser
    /// reads no response files either); a value that starts with <c>-</c> is the full parser's call.
    /// </summary>
    public static Arguments? TryParse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var sawSubmit = false;
        var json = false;
        for (var i = 0; i < args.Length; i++)
        {
            var token = args[i];
            if (token == "submit" && !sawSubmit)
            {
                sawSubmit = true;
                continue;
            }
            if (token == "--json" && !json)
            {
                json = true;
                continue;
            }
            var allowed = sawSubmit ? Array.IndexOf(ValueOptions, token) >= 0 : Array.IndexOf(GlobalValueOptions, token) >= 0;
            if (!allowed || values.ContainsKey(token) || i + 1 >= args.Length)
            {
                return null;
            }
            var value = args[++i];
            // An empty --pipe, or a relative path, is a usage error the full parser reports.
            if (value.StartsWith('-') || token == "--pipe" && (PipeArgument.IsBlank(value) || PipeArgument.IsRelativePath(value)))
            {
                return null;
            }
            values[token] = value;
        }
        if (!sawSubmit || !values.TryGetValue("--id", out var id) || !values.TryGetValue("--kind", out var kind) || !values.TryGetValue("--agent", out var agent))
        {
            return null;
        }
        return new Arguments(id, kind, agent, values.GetValueOrDefault("--text"), values.GetValueOrDefault("--text-file"),
            values.GetValueOrDefault("--context-json"), values.GetValueOrDefault("--pipe"), json);
    }

    public static async Task<int> RunAsync(Arguments a, CliIo io, bool blockingIo, CancellationToken cancellationToken)
    {
        // Same checks in the same order as SubmitCommand: nothing is sent for bad input.
        var text = await SubmitInput.ReadTextAsync(a.Text, a.TextFile, io.In, cancellationToken).ConfigureAwait(false);
        var context = a.ContextJson is null ? null : ValidatedContext(a.ContextJson);
        var caller = new ServiceCaller(a.Pipe is { Length: > 0 } pipe ? pipe : PipeArgument.FromEnvironment(), a.Json, io.Out);
        var request = Request(a, text, context);
        var responseLine = blockingIo ? caller.Exchange(request) : await caller.ExchangeAsync(request, cancellationToken).ConfigureAwait(false);
        if (TryReadReceipt(responseLine) is not { } receipt)
        {
            // An error, or a shape this reader does not expect: the full contract reads it and reports as usual.
            var response = await caller.InterpretAsync(responseLine).ConfigureAwait(false);
            receipt = response.Receipt ?? throw CliException.Internal("the service answered submit without a receipt");
            if (!caller.Json)
            {
                await io.Out.WriteLineAsync(HumanOutput.Receipt(receipt)).ConfigureAwait(false);
            }
            return ExitCodes.Ok;
        }
        await io.Out.WriteLineAsync(a.Json ? responseLine : HumanOutput.Receipt(receipt)).ConfigureAwait(false);
        return ExitCodes.Ok;
    }

    /// <summary>
    /// {"op":"submit","draft":{"id","kind","agent","text"[,"context"]}}: the submit contract, field for field.
    /// Written by hand: System.Text.Json's writer costs ~8 ms of start-up (assembly load, encoder set-up) in a
    /// process that writes one line. The bytes are those the Client's serializer writes for the same request
    /// (<see cref="JsonLinesEscaping"/>): quote, backslash, control characters and U+2028/U+2029 escaped,
    /// any other character as UTF-8. The context is the caller's JSON object as <see cref="ValidatedContext"/> wrote it.
    /// </summary>
    internal static byte[] Request(Arguments a, string text, string? context)
    {
        var line = new StringBuilder(128 + text.Length);
        line.Append("{\"op\":\"submit\",\"draft\":{\"id\":");
        if (!AppendString(line, a.Id)) return WriterRequest(a, text, context);
        line.Append(",\"kind\":");
        if (!AppendString(line, a.Kind)) return WriterRequest(a, text, context);
        line.Append(",\"agent\":");
        if (!AppendString(line, a.Agent)) return WriterRequest(a, text, context);
        line.Append(",\"text\":");
        if (!AppendString(line, text)) return WriterRequest(a, text, context);
        if (context is not null)
        {
            line.Append(",\"context\":").Append(context);
        }
        line.Append("}}");
        return Encoding.UTF8.GetBytes(line.ToString());
    }

    /// <summary>Appends a JSON string; false for text with an unpaired surrogate (left to the serializer's rules).</summary>
    private static bool AppendString(StringBuilder line, string value)
    {
        line.Append('"');
        for (var i = 0; i < value.Length; i++)
        {
            var ch = value[i];
            if (char.IsHighSurrogate(ch) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                line.Append(ch).Append(value[++i]);
            }
            else if (char.IsSurrogate(ch))
            {
                return false;
            }
            else if (JsonLinesEscaping.MustEscape(ch))
            {
                line.Append(JsonLinesEscaping.Escape(ch));
            }
            else
            {
                line.Append(ch);
            }
        }
        line.Append('"');
        return true;
    }

    /// <summary>
    /// --context-json checked as SubmitCommand checks it, then written as the Client's serializer writes it: compact
    /// (a multi-line object becomes one line, as a request line must be) with the same escaping, so the service
    /// stores the same bytes by either path. Apart, so JSON types load only when used.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    internal static string ValidatedContext(string json)
    {
        var context = SubmitInput.ParseContext(json)!.Value;
        var buffer = new ArrayBufferWriter<byte>(json.Length + 16);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JsonLinesEncoder.Instance }))
        {
            context.WriteTo(writer);
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static byte[] WriterRequest(Arguments a, string text, string? context)
    {
        var buffer = new ArrayBufferWriter<byte>(256 + Encoding.UTF8.GetMaxByteCount(text.Length));
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JsonLinesEncoder.Instance }))
        {
            json.WriteStartObject();
            json.WriteString("op", Ops.Submit);
            json.WriteStartObject("draft");
            json.WriteString("id", a.Id);
            json.WriteString("kind", a.Kind);
            json.WriteString("agent", a.Agent);
            json.WriteString("text", text);
            if (context is not null)
            {
                json.WritePropertyName("context");
                json.WriteRawValue(context, skipInputValidation: true);
            }
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// The receipt of a successful answer, or null for anything else (which the full contract then reads). A small
    /// reader of its own for the one shape it accepts (an object of strings, integers, booleans, nulls and one
    /// nested object), so the common case loads no JSON library at all; anything it does not expect is a null.
    /// </summary>
    internal static Receipt? TryReadReceipt(string line)
    {
        var reader = new MiniJson(line);
        var top = reader.ReadObject();
        if (top is null || !reader.AtEnd || top.GetValueOrDefault("ok") is not true || top.GetValueOrDefault("receipt") is not Dictionary<string, object?> r)
        {
            return null;
        }
        return r.GetValueOrDefault("id") is string id && r.GetValueOrDefault("seq") is long seq && r.GetValueOrDefault("sha256") is string sha
               && r.GetValueOrDefault("state") is string state && r.GetValueOrDefault("duplicate") is bool duplicate
            ? new Receipt(id, seq, sha, state, duplicate)
            : null;
    }

    /// <summary>Just enough JSON for a response line; returns null (never throws) on anything outside that subset.</summary>
    private ref struct MiniJson(string text)
    {
        private readonly string _text = text;
        private int _at;

        public bool AtEnd
        {
            get
            {
                SkipSpace();
                return _at == _text.Length;
            }
        }

        public Dictionary<string, object?>? ReadObject(int depth = 0)
        {
            SkipSpace();
            if (depth > 2 || !Take('{')) return null;
            var members = new Dictionary<string, object?>(StringComparer.Ordinal);
            SkipSpace();
            if (Take('}')) return members;
            while (true)
            {
                SkipSpace();
                if (ReadString() is not { } name) return null;
                SkipSpace();
                if (!Take(':')) return null;
                if (!ReadValue(depth, out var value) || !members.TryAdd(name, value)) return null;
                SkipSpace();
                if (Take('}')) return members;
                if (!Take(',')) return null;
            }
        }

        private bool ReadValue(int depth, out object? value)
        {
            SkipSpace();
            value = null;
            if (_at >= _text.Length) return false;
            var ch = _text[_at];
            if (ch == '"') return (value = ReadString()) is not null;
            if (ch == '{') return (value = ReadObject(depth + 1)) is not null;
            if (Word("true")) { value = true; return true; }
            if (Word("false")) { value = false; return true; }
            if (Word("null")) return true;
            var start = _at;
            if (ch == '-') _at++;
            while (_at < _text.Length && char.IsAsciiDigit(_text[_at])) _at++;
            if (_at == start || _at < _text.Length && _text[_at] is '.' or 'e' or 'E') return false;
            if (!long.TryParse(_text.AsSpan(start, _at - start), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var number)) return false;
            value = number;
            return true;
        }

        private string? ReadString()
        {
            if (!Take('"')) return null;
            var value = new StringBuilder();
            while (_at < _text.Length)
            {
                var ch = _text[_at++];
                if (ch == '"') return value.ToString();
                if (ch < ' ') return null;
                if (ch != '\\')
                {
                    value.Append(ch);
                    continue;
                }
                if (_at >= _text.Length) return null;
                var escape = _text[_at++];
                switch (escape)
                {
                    case '"': value.Append('"'); break;
                    case '\\': value.Append('\\'); break;
                    case '/': value.Append('/'); break;
                    case 'b': value.Append('\b'); break;
                    case 'f': value.Append('\f'); break;
                    case 'n': value.Append('\n'); break;
                    case 'r': value.Append('\r'); break;
                    case 't': value.Append('\t'); break;
                    case 'u' when _at + 4 <= _text.Length
                        && int.TryParse(_text.AsSpan(_at, 4), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out var code):
                        value.Append((char)code);
                        _at += 4;
                        break;
                    default: return null;
                }
            }
            return null;
        }

        private bool Word(string word)
        {
            if (string.CompareOrdinal(_text, _at, word, 0, word.Length) != 0) return false;
            _at += word.Length;
            return true;
        }

        private bool Take(char ch)
        {
            if (_at < _text.Length && _text[_at] == ch)
            {
                _at++;
                return true;
            }
            return false;
        }

        private void SkipSpace()
        {
            while (_at < _text.Length && _text[_at] is ' ' or '\t' or '\r' or '\n') _at++;
        }
    }
}
