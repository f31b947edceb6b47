using System.Buffers;
using System.Text;
using System.Text.Json;
using ApprovalBot.Client;

namespace ApprovalBot.Cli;

/// <summary>
/// The hot path of <c>approvalctl submit</c>, which agents run once per draft: a process whose start-up is most
/// of its cost. For the plain shape of the command (<c>submit</c> with <c>--name value</c> options, each at most
/// once, all required ones present) it skips building the System.CommandLine tree (~12 ms) and the JSON contract
/// metadata (~12 ms on first use): the request is written with <see cref="Utf8JsonWriter"/> and a successful
/// receipt read with <see cref="Utf8JsonReader"/>. Anything else (help, <c>--opt=value</c>, unknown or repeated
/// options, a usage error, any error answer) goes through the full parser and contract, so behaviour and messages
/// stay exactly those of <see cref="Commands.SubmitCommand"/>.
/// </summary>
internal static class SubmitFastPath
{
    internal sealed record Arguments(string Id, string Kind, string Agent, string? Text, string? TextFile, string? ContextJson, string? Pipe, bool Json);

    private static readonly string[] ValueOptions = ["--id", "--kind", "--agent", "--text", "--text-file", "--context-json", "--pipe"];

    /// <summary>The arguments when they have the plain shape this path handles; otherwise null (use the full parser).</summary>
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
            if (Array.IndexOf(ValueOptions, token) < 0 || values.ContainsKey(token) || i + 1 >= args.Length)
            {
                return null;
            }
            var value = args[++i];
            // A value that looks like an option (or a response file) is the full parser's call to make.
            if (value.StartsWith('-') || value.StartsWith('@'))
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

    public static async Task<int> RunAsync(Arguments a, CliIo io, CancellationToken cancellationToken)
    {
        // Same checks in the same order as SubmitCommand: nothing is sent for bad input.
        var text = await SubmitInput.ReadTextAsync(a.Text, a.TextFile, io.In, cancellationToken).ConfigureAwait(false);
        var context = SubmitInput.ParseContext(a.ContextJson);
        var caller = new ServiceCaller(a.Pipe is { Length: > 0 } pipe ? pipe : PipeClient.PipeNameFromEnvironment(), a.Json, io.Out);
        var responseLine = await caller.ExchangeAsync(Request(a, text, context), cancellationToken).ConfigureAwait(false);
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

    /// <summary>{"op":"submit","draft":{"id","kind","agent","text"[,"context"]}}: the submit contract, field for field.</summary>
    internal static byte[] Request(Arguments a, string text, JsonElement? context)
    {
        var buffer = new ArrayBufferWriter<byte>(256 + Encoding.UTF8.GetMaxByteCount(text.Length));
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("op", Ops.Submit);
            json.WriteStartObject("draft");
            json.WriteString("id", a.Id);
            json.WriteString("kind", a.Kind);
            json.WriteString("agent", a.Agent);
            json.WriteString("text", text);
            if (context is { } c)
            {
                json.WritePropertyName("context");
                c.WriteTo(json);
            }
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The receipt of a successful answer, or null for anything else (which the full contract then reads).</summary>
    internal static Receipt? TryReadReceipt(string line)
    {
        try
        {
            var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(line));
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
            bool? ok = null;
            Receipt? receipt = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("ok"u8))
                {
                    reader.Read();
                    ok = reader.TokenType == JsonTokenType.True ? true : reader.TokenType == JsonTokenType.False ? false : null;
                }
                else if (reader.ValueTextEquals("receipt"u8))
                {
                    reader.Read();
                    receipt = ReadReceipt(ref reader);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
            return ok == true ? receipt : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static Receipt? ReadReceipt(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject) return null;
        string? id = null, sha = null, state = null;
        long? seq = null;
        bool? duplicate = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString();
            reader.Read();
            switch (name)
            {
                case "id" when reader.TokenType == JsonTokenType.String: id = reader.GetString(); break;
                case "sha256" when reader.TokenType == JsonTokenType.String: sha = reader.GetString(); break;
                case "state" when reader.TokenType == JsonTokenType.String: state = reader.GetString(); break;
                case "seq" when reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var s): seq = s; break;
                case "duplicate" when reader.TokenType is JsonTokenType.True or JsonTokenType.False: duplicate = reader.GetBoolean(); break;
                default: reader.Skip(); break;
            }
        }
        return id is not null && sha is not null && state is not null && seq is { } n && duplicate is { } d ? new Receipt(id, n, sha, state, d) : null;
    }
}
