using System.Text.Json;
using ApprovalBot.Client;
using ApprovalBot.Drafts;

namespace ApprovalBot.Pipe.Operations;

internal sealed class ListOperation(DraftStore store) : IPipeOperation
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 1000;
    private static readonly IntegerRange LimitRange = new("limit", 1, MaxLimit);

    public string Name => Ops.List;

    public Task<Response> HandleAsync(JsonElement request, CancellationToken cancellationToken)
    {
        var list = StrictRequest.Read(request, ProtocolJsonContext.Default.ListRequest, LimitRange);
        DraftState? state = null;
        if (list.State is not null)
        {
            if (!DraftStateNames.TryParse(list.State, out var parsed))
            {
                throw new ProtocolException(ErrorCodes.Invalid, $"unknown state; one of {string.Join(", ", States.All)}", "state");
            }
            state = parsed;
        }
        var limit = LimitRange.ValueOr(list.Limit, DefaultLimit);
        var drafts = store.List(state, list.Kind, limit).Select(d => d.ToView()).ToList();
        return Task.FromResult(new Response { Ok = true, Drafts = drafts });
    }
}
