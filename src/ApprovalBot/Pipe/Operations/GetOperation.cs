using System.Text.Json;
using ApprovalBot.Client;
using ApprovalBot.Drafts;

namespace ApprovalBot.Pipe.Operations;

internal sealed class GetOperation(DraftStore store) : IPipeOperation
{
    public string Name => Ops.Get;

    public Task<Response> HandleAsync(JsonElement request, CancellationToken cancellationToken)
    {
        var id = StrictRequest.Read(request, ProtocolJsonContext.Default.GetRequest).Id;
        var draft = store.Get(id) ?? throw NotFound(id);
        return Task.FromResult(new Response { Ok = true, Draft = draft.ToView() });
    }

    public static ProtocolException NotFound(string id) => new(ErrorCodes.NotFound, $"no draft with id '{Shown(id)}'", "id");

    /// <summary>An id as an error message quotes it: at most 64 characters (an id may have 256).</summary>
    public static string Shown(string id) => id.Length <= 64 ? id : id[..64] + "…";
}
