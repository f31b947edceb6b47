using System.Text.Json.Nodes;

namespace ApprovalBot.Sandbox.State;

/// <summary>Bot commands per (scope, language), as setMyCommands/getMyCommands key them.</summary>
internal sealed class CommandStore
{
    private const string DefaultScope = """{"type":"default"}""";
    private readonly Dictionary<string, IReadOnlyList<BotCommandInfo>> _lists = new(StringComparer.Ordinal);

    public void Set(JsonNode? scope, string? language, IReadOnlyList<BotCommandInfo> commands) => _lists[Key(scope, language)] = commands;

    public IReadOnlyList<BotCommandInfo> Get(JsonNode? scope, string? language) => _lists.GetValueOrDefault(Key(scope, language)) ?? [];

    public void Delete(JsonNode? scope, string? language) => _lists.Remove(Key(scope, language));

    private static string Key(JsonNode? scope, string? language) => (scope?.ToJsonString() ?? DefaultScope) + "|" + (language ?? "");
}
