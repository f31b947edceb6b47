using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json;
using ApprovalBot.Drafts;

namespace ApprovalBot.Execution;

/// <summary>One attempt as a route receives it: the verified text, never re-read after the handoff check.</summary>
internal sealed record ExecutionRequest(Draft Draft, string Text, int Attempt, string IdempotencyKey)
{
    /// <summary>
    /// The JSON a command reads on stdin and a webhook receives as its body:
    /// id, kind, agent, text, sha256, context, decision, attempt, idempotency_key.
    /// </summary>
    /// <exception cref="JsonException">The stored context is not one JSON value.</exception>
    /// <exception cref="ArgumentException">A value the writer cannot take.</exception>
    public byte[] ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("id", Draft.Id);
            w.WriteString("kind", Draft.Kind);
            w.WriteString("agent", Draft.Agent);
            w.WriteString("text", Text);
            w.WriteString("sha256", Draft.Sha256);
            w.WritePropertyName("context");
            if (Draft.ContextJson is { } context)
            {
                WriteContext(w, context);
            }
            else
            {
                w.WriteNullValue();
            }
            w.WriteStartObject("decision");
            w.WriteString("outcome", Draft.Decision);
            if (Draft.DecidedBy is { } by) w.WriteNumber("by", by); else w.WriteNull("by");
            w.WriteString("by_name", Draft.DecidedByName);
            if (Draft.DecidedAt is { } at) w.WriteString("at", at); else w.WriteNull("at");
            w.WriteString("sha256", Draft.DecisionSha256);
            w.WriteEndObject();
            w.WriteNumber("attempt", Attempt);
            w.WriteString("idempotency_key", IdempotencyKey);
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>
    /// The payload, or why this draft cannot be written as one. Routes build it before they start anything, so a
    /// draft that cannot be written fails for certain with nothing run, rather than being read as a run cut off.
    /// </summary>
    public bool TryToJson([NotNullWhen(true)] out byte[]? json, [NotNullWhen(false)] out string? problem)
    {
        try
        {
            json = ToJson();
            problem = null;
            return true;
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException)
        {
            json = null;
            problem = ex.Message;
            return false;
        }
    }

    public string ToJsonString() => Encoding.UTF8.GetString(ToJson());

    private static void WriteContext(Utf8JsonWriter w, string context)
    {
        try
        {
            // Validated, not re-encoded: a context older builds stored with an unpaired surrogate escape ("\ud800") is
            // valid JSON text and goes out as stored, as it always has.
            w.WriteRawValue(context, skipInputValidation: false);
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException)
        {
            // Submit stores only a JSON object, so this is a store edited by hand or a bug: say which field, not just the parser's words.
            throw new JsonException("the stored context is not one JSON value: " + ex.Message, ex);
        }
    }
}
