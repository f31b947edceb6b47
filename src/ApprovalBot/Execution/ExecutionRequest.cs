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
                w.WriteRawValue(context, skipInputValidation: false);
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

    public string ToJsonString() => Encoding.UTF8.GetString(ToJson());
}
