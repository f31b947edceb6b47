using System.Text;

namespace ApprovalBot.Tests.Pipe;

/// <summary>
/// Generates hostile request lines from a seed: random bytes, broken UTF-8, deep nesting, huge numbers and
/// strings, and valid requests with one field mutated. Whether a line is valid is judged by
/// <see cref="SubmitOracle"/>, not by the strategy that made it (a mutation can land on a valid value).
/// </summary>
internal sealed class PipeFuzzer(int seed)
{
    private readonly Random _random = new(seed);
    private int _counter;

    internal sealed record Case(byte[] Line, string Strategy);

    private static readonly string[] Ops = ["submit", "get", "wait", "list", "report", "ping", "claim", "complete", "fail", "cancel", "", "SUBMIT", "submit ", "nope"];
    private static readonly string[] Kinds = ["reply", "post", "", "REPLY", "unknown", "reply\u0000", "<script>"];
    private static readonly string[] Values =
    [
        "null", "true", "false", "0", "-1", "1e999999", "-1e-999999", "123456789012345678901234567890", "1.5", "[]", "{}", "\"\"",
        "\"\\u0000\"", "\"\\ud800\"", "\"a\\u0000b\"", "\"\\u200b\\ufeff\"", "\"a\\tb\"", "\"\\u2800 \\u3164\"", "\"x\\u001b\"", "\"\\u0093q\\u0094\"", "\"a\\u202eb\"", "[[[[[]]]]]", "{\"a\":{\"b\":{}}}", "\"" + new string('z', 5000) + "\"", "NaN", "\"💥\"",
    ];

    public Case Next()
    {
        var n = _random.Next(100);
        return n switch
        {
            < 8 => Bytes(),
            < 16 => BrokenUtf8(),
            < 22 => Nesting(),
            < 30 => HugeString(),
            < 40 => ValidSubmit(),
            < 85 => MutatedSubmit(),
            _ => OtherOp(),
        };
    }

    private Case Bytes()
    {
        var bytes = new byte[_random.Next(1, 300)];
        _random.NextBytes(bytes);
        Sanitize(bytes);
        return new Case(bytes, "random-bytes");
    }

    private Case BrokenUtf8()
    {
        var valid = Encoding.UTF8.GetBytes(SubmitJson(NextId(), "reply", "fuzz", "text with broken bytes"));
        var at = _random.Next(valid.Length);
        byte[][] broken = [[0xC3], [0xE2, 0x82], [0xF0, 0x9F, 0x98], [0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80]];
        var insert = broken[_random.Next(broken.Length)];
        return new Case([.. valid[..at], .. insert, .. valid[at..]], "broken-utf8");
    }

    private Case Nesting()
    {
        var depth = _random.Next(30, 5000);
        var open = _random.Next(2) == 0 ? "[" : "{\"a\":";
        var close = open == "[" ? "]" : "}";
        var inner = string.Concat(Enumerable.Repeat(open, depth)) + "1" + string.Concat(Enumerable.Repeat(close, depth));
        var line = _random.Next(2) == 0 ? inner : "{\"op\":\"submit\",\"draft\":{\"id\":\"" + NextId() + "\",\"kind\":\"reply\",\"agent\":\"f\",\"text\":\"t\",\"context\":" + inner + "}}";
        return new Case(Encoding.UTF8.GetBytes(line), "deep-nesting");
    }

    private Case HugeString()
    {
        var size = _random.Next(300, 200_000);
        var field = _random.Next(4) switch { 0 => "id", 1 => "kind", 2 => "agent", _ => "text" };
        var huge = new string((char)('a' + _random.Next(26)), size);
        var draft = new Dictionary<string, string> { ["id"] = NextId(), ["kind"] = "reply", ["agent"] = "f", ["text"] = "t" };
        draft[field] = huge;
        return new Case(Encoding.UTF8.GetBytes(SubmitJson(draft["id"], draft["kind"], draft["agent"], draft["text"])), "huge-string:" + field);
    }

    private Case ValidSubmit()
    {
        var id = NextId();
        return new Case(Encoding.UTF8.GetBytes(SubmitJson(id, _random.Next(2) == 0 ? "reply" : "post", "fuzz", $"valid text {id} ✓")), "valid");
    }

    private Case MutatedSubmit()
    {
        var id = NextId();
        string[] fields = ["\"id\":\"" + id + "\"", "\"kind\":\"reply\"", "\"agent\":\"fuzz\"", "\"text\":\"mutated\""];
        var victim = _random.Next(fields.Length);
        var name = fields[victim][..(fields[victim].IndexOf(':', StringComparison.Ordinal))];
        switch (_random.Next(6))
        {
            case 0: fields[victim] = ""; break;
            case 1: fields[victim] = $"{name}:{Values[_random.Next(Values.Length)]}"; break;
            case 2: fields[victim] += ",\"" + (char)('a' + _random.Next(26)) + "extra\":1"; break;
            case 3: fields[victim] = $"{name}:\"{Kinds[_random.Next(Kinds.Length)]}\""; break;
            // A trailing escaped newline: .NET's `$` matches before it, so an id check anchored with `$` lets it through.
            case 4: fields[victim] = fields[victim][..^1] + "\\n\""; break;
            default: fields[victim] = $"{name}:\"{new string(' ', _random.Next(0, 3))}\""; break;
        }
        var body = string.Join(",", fields.Where(f => f.Length > 0));
        var line = "{\"op\":\"submit\",\"draft\":{" + body + "}}";
        return new Case(Encoding.UTF8.GetBytes(line), "mutated-field");
    }

    private Case OtherOp()
    {
        var op = Ops[_random.Next(Ops.Length)];
        var value = Values[_random.Next(Values.Length)];
        var line = _random.Next(3) switch
        {
            0 => $$"""{"op":"{{op}}","id":{{value}}}""",
            1 => $$"""{"op":"{{op}}","timeout_ms":{{value}},"id":"x"}""",
            _ => $$"""{"op":{{value}}}""",
        };
        return new Case(Encoding.UTF8.GetBytes(line), "other-op:" + op);
    }

    private string NextId() => $"fuzz:{seed}:{_counter++}";

    private static string SubmitJson(string id, string kind, string agent, string text) =>
        "{\"op\":\"submit\",\"draft\":{\"id\":" + Quote(id) + ",\"kind\":" + Quote(kind) + ",\"agent\":" + Quote(agent) + ",\"text\":" + Quote(text) + "}}";

    private static string Quote(string value) => System.Text.Json.JsonSerializer.Serialize(value);

    private static void Sanitize(byte[] bytes)
    {
        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] == (byte)'\n') bytes[i] = (byte)' ';
        }
    }
}
