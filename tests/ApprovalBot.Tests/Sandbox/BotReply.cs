using System.Net;
using System.Text.Json;

namespace ApprovalBot.Tests.Sandbox;

/// <summary>A Bot API answer as the wire carries it: HTTP status plus the parsed envelope.</summary>
public sealed record BotReply(HttpStatusCode Status, JsonElement Body)
{
    public bool Ok => Body.GetProperty("ok").GetBoolean();

    public JsonElement Result => Body.GetProperty("result");

    public string? Description => Body.TryGetProperty("description", out var d) ? d.GetString() : null;

    public int? ErrorCode => Body.TryGetProperty("error_code", out var c) ? c.GetInt32() : null;

    public JsonElement? Parameters => Body.TryGetProperty("parameters", out var p) ? p : null;

    public override string ToString() => $"{(int)Status} {Body}";
}
