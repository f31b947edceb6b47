using System.Text.Json;
using ApprovalBot.Client;

namespace ApprovalBot.Pipe;

/// <summary>
/// One op of the agent protocol. Features register theirs with <c>AddPipeOperation</c>; the pipe routes by
/// <see cref="Name"/> and knows nothing else of them.
/// </summary>
internal interface IPipeOperation
{
    string Name { get; }

    /// <summary>Answers one request (a JSON object whose <c>op</c> is <see cref="Name"/>); refusals throw <see cref="ProtocolException"/>.</summary>
    Task<Response> HandleAsync(JsonElement request, CancellationToken cancellationToken);
}
