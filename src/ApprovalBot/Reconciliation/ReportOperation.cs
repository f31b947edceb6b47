using System.Text.Json;
using ApprovalBot.Client;
using ApprovalBot.Pipe;

namespace ApprovalBot.Reconciliation;

/// <summary>The pipe op <c>report</c>: the orphans or stale report on demand.</summary>
internal sealed class ReportOperation(GapFinder finder) : IPipeOperation
{
    public string Name => Ops.Report;

    public Task<Response> HandleAsync(JsonElement request, CancellationToken cancellationToken)
    {
        var name = StrictRequest.Read(request, ProtocolJsonContext.Default.ReportRequest).Name;
        if (name is not (Gaps.Orphans or Gaps.Stale))
        {
            throw new ProtocolException(ErrorCodes.Invalid, "must be 'orphans' or 'stale'", "name");
        }
        var items = finder.Find(name).Select(g => new ReportItem(g.DraftId, g.Name, g.State, g.Since, g.Detail)).ToList();
        return Task.FromResult(new Response { Ok = true, Report = new Report(name, items) });
    }
}
