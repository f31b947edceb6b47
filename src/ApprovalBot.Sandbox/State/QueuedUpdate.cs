using System.Text.Json.Nodes;

namespace ApprovalBot.Sandbox.State;

/// <summary>An update waiting for the bot. <see cref="Id"/> orders and confirms it even when a raw update carries its own update_id.</summary>
internal sealed record QueuedUpdate(long Id, string Type, JsonNode Json);
