using System.Text.Json.Nodes;
using ApprovalBot.Sandbox.Validation;

namespace ApprovalBot.Sandbox.Methods;

/// <summary>A Bot API method the sandbox implements. Parameters arrive already checked against the spec.</summary>
internal interface IBotMethod
{
    /// <summary>The name as the spec spells it.</summary>
    string Name { get; }

    /// <summary>Returns the "result" of the envelope; refusals are thrown as <see cref="BotApiException"/>.</summary>
    Task<JsonNode> InvokeAsync(ValidatedCall call, CancellationToken ct);
}
