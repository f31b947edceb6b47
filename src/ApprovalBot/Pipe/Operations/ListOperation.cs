using System.Text.Json;
using ApprovalBot.Client;
using ApprovalBot.Drafts;

namespace ApprovalBot.Pipe.Operations;

internal sealed class ListOperation(DraftStore store) : IPipeOperation
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 1000;
    private static readonly IntegerRange LimitRange = new("limit", 1, MaxLimit);

    // A seq is a rowid: 1 or more, up to SQLite's largest.
    private static readonly IntegerRange BeforeRange = new("before", 1, long.MaxValue);

    public string Name => Ops.List;

    public Task<Response> HandleAsync(JsonElement request, CancellationToken cancellationToken)
    {
        var list = StrictRequest.Read(request, ProtocolJsonContext.Default.ListRequest, LimitRange, BeforeRange);
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
        var before = BeforeRange.ValueOrNull(list.Before);
        // One draft more than the page tells whether there is a next page, so next_before is never sent for an empty one.
        var found = store.List(state, list.Kind, limit + 1, before);
        var page = found.Take(limit).Select(d => d.ToView()).ToList();
        long? nextBefore = found.Count > limit ? page[^1].Seq : null;
        return Task.FromResult(new Response { Ok = true, Drafts = page, NextBefore = nextBefore });
    }
}
